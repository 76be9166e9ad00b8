// How route handlers answer errors (server/http/context.h `guarded`): 5xx replies carry an error
// id and never internals; client errors keep their message.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "canter/error.h"
#include "server/http/context.h"
#include "util/check.h"

namespace canter::server {
namespace {

nlohmann::json reply_of(const std::function<void()>& fn, int* status) {
    httplib::Request req;
    req.method = "GET";
    req.path = "/v1/test";
    httplib::Response res;
    guarded([&](const httplib::Request&, httplib::Response&) { fn(); })(req, res);
    *status = res.status;
    return nlohmann::json::parse(res.body);
}

TEST(ErrorReply, InternalErrorsCarryAnIdNotTheirMessage) {
    int status = 0;
    for (const auto& thrower : std::vector<std::function<void()>>{
             [] { throw std::runtime_error("sqlite: disk I/O error at /srv/canter/canter.db"); },
             [] { CANTER_THROW(Internal, "worker state /srv/canter/jobs/x broken"); }}) {
        const auto body = reply_of(thrower, &status);
        EXPECT_EQ(status, 500);
        const std::string message = body["error"]["message"];
        EXPECT_EQ(message.find("/srv/canter"), std::string::npos) << message;
        EXPECT_NE(message.find("err_"), std::string::npos) << message;
        EXPECT_EQ(body["error"]["code"], "internal");
    }
}

TEST(ErrorReply, ClientErrorsKeepTheirMessage) {
    int status = 0;
    auto body = reply_of([] { CANTER_THROW(InvalidArgument, "duration: must be 1..15 seconds"); }, &status);
    EXPECT_EQ(status, 422);
    EXPECT_EQ(body["error"]["message"], "duration: must be 1..15 seconds");
    body = reply_of([] { CANTER_THROW(Unsupported, "this build has no tokenizer"); }, &status);
    EXPECT_EQ(status, 501);
    EXPECT_EQ(body["error"]["message"], "this build has no tokenizer");
}

}  // namespace
}  // namespace canter::server
