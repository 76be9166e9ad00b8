// One `canter serve` per data folder: a second one refuses to start and names the holder.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "server/store/data_lock.h"
#include "serve_fixture.h"
#include "test_util.h"

namespace canter::testing {
namespace {

TEST(DataDirLock, SecondHolderIsRefusedWithThePid) {
    const std::string dir = temp_dir("lock");
    auto first = std::make_unique<server::DataDirLock>(dir);
    const std::string e = error_of([&] { server::DataDirLock second(dir); });
    EXPECT_NE(e.find("in use by another canter serve (pid " + std::to_string(getpid()) + ";"), std::string::npos) << e;
    EXPECT_NE(e.find(dir), std::string::npos) << e;
    first.reset();  // released: the next one gets it
    EXPECT_EQ(error_of([&] { server::DataDirLock again(dir); }), "");
}

TEST(DataDirLock, SecondServeOnTheSameFolderRefusesToStart) {
    const std::string dir = temp_dir("lock-serve");
    ServeProcess running(dir);
    ASSERT_GT(running.port(), 0) << running.log();
    std::string out;
    const int rc = run_command(canter_binary() + " serve --port 0 --data " + dir, &out);
    EXPECT_NE(rc, 0) << out;
    EXPECT_NE(out.find("is in use by another canter serve (pid "), std::string::npos) << out;
    // The first server is untouched.
    httplib::Client c("127.0.0.1", running.port());
    const auto health = c.Get("/health");
    ASSERT_TRUE(health) << running.log();
    EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace canter::testing
