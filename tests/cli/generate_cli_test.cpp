// `canter generate` / `make-demo-model` / `inspect MODEL` as a user runs them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "canter/engine.h"
#include "io/media/media_probe.h"
#include "test_util.h"

namespace canter {
namespace {

namespace fs = std::filesystem;
const std::string kCanter = testing::canter_binary();

int run(const std::string& args, std::string* out) { return testing::run_command(kCanter + " " + args, out); }

// A demo model shared by these tests.
const std::string& model_dir() {
    static const std::string dir = [] {
        const std::string d = testing::temp_dir("cli-generate-model") + "/demo";
        make_demo_model(d);
        return d;
    }();
    return dir;
}

TEST(CliGenerate, JsonProgressAndAValidFile) {
    const std::string out_path = testing::temp_dir("cli-gen") + "/clip.mp4";
    std::string out;
    // stdout only: JSON lines are for programs; stderr carries nothing they need.
    ASSERT_EQ(testing::run_command(kCanter + " generate --prompt 'a cat purring' --seconds 2 --steps 2 --model " +
                                       model_dir() + " --out " + out_path + " --json 2>/dev/null",
                                   &out),
              0)
        << out;
    std::istringstream lines(out);
    std::string line;
    int progress = 0;
    nlohmann::json done;
    while (std::getline(lines, line)) {
        const auto j = nlohmann::json::parse(line);  // every line is JSON
        if (j["event"] == "progress") ++progress;
        if (j["event"] == "done") done = j;
    }
    EXPECT_GT(progress, 3);
    ASSERT_FALSE(done.is_null()) << out;
    EXPECT_EQ(done["output"], out_path);
    EXPECT_EQ(done["demo_model"], true);
    const auto m = media::probe_media(out_path);
    EXPECT_EQ(m.video_frames, 49);  // 2 s: A = 51, T = 13, F = 49
    EXPECT_EQ(m.width, 448);
    EXPECT_TRUE(m.has_audio);
}

TEST(CliGenerate, DefaultModelIsTheDemoAndSaysSo) {
    const std::string home = testing::temp_dir("cli-home");
    const std::string out_path = home + "/default.mp4";
    std::string out;
    ASSERT_EQ(testing::run_command("CANTER_HOME=" + home + " CANTER_MODEL= " + kCanter +
                                       " generate --prompt 'hello' --seconds 1 --steps 1 --out " + out_path,
                                   &out),
              0)
        << out;
    EXPECT_NE(out.find("untrained demo model"), std::string::npos) << out;
    EXPECT_TRUE(fs::exists(fs::path(home) / "demo-model" / "canter.json"));
    EXPECT_TRUE(fs::exists(out_path));
}

TEST(CliGenerate, BadInputExitsNonZeroWithAClearMessage) {
    const std::string dir = testing::temp_dir("cli-bad");
    const std::string base = "generate --model " + model_dir() + " --out " + dir + "/x.mp4 ";
    struct Case {
        std::string args, needle;
        int status;
    };
    for (const Case& c : {Case{"--prompt hi --seconds 20", "seconds", 2}, Case{"--prompt hi --aspect 2:1", "aspect ratio", 2},
                          Case{"--prompt hi --resolution 4k", "resolution", 2}, Case{"--prompt ''", "prompt", 2},
                          Case{"--prompt hi --frobnicate", "--frobnicate", 2},
                          Case{"--prompt hi --image " + dir + "/missing.jpg", "missing.jpg", 3}}) {
        std::string out;
        const int status = run(base + c.args, &out);
        EXPECT_EQ(status, c.status) << c.args << "\n" << out;
        EXPECT_NE(out.find(c.needle), std::string::npos) << c.args << "\n" << out;
        EXPECT_FALSE(fs::exists(dir + "/x.mp4")) << c.args;
    }
    std::string out;
    EXPECT_NE(run("generate --prompt hi --seconds 1 --model " + dir + "/nowhere --out " + dir + "/y.mp4", &out), 0);
    EXPECT_NE(out.find("canter.json"), std::string::npos) << out;
    EXPECT_NE(run("generate --prompt hi --seconds 1 --model " + model_dir() + " --out /proc/forbidden/y.mp4", &out), 0);
    EXPECT_NE(out.find("/proc/forbidden"), std::string::npos) << out;
}

TEST(CliGenerate, CtrlCStopsAndLeavesNoFile) {
    const std::string dir = testing::temp_dir("cli-sigint");
    const std::string out_path = dir + "/interrupted.mp4";
    // `exec` keeps the PID the shell printed; 30 steps so there is time to interrupt.
    const std::string cmd = "sh -c 'echo $$; exec " + kCanter + " generate --prompt hi --seconds 3 --steps 30 --model " +
                            model_dir() + " --out " + out_path + " --json 2>&1'";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char buf[4096];
    ASSERT_NE(std::fgets(buf, sizeof buf, pipe), nullptr);
    const pid_t pid = std::atoi(buf);
    ASSERT_GT(pid, 0);
    bool interrupted = false, cancelled_event = false;
    while (std::fgets(buf, sizeof buf, pipe)) {
        const std::string line = buf;
        if (!interrupted && line.find("\"stage\":\"base\"") != std::string::npos &&
            line.find("\"step\":1,") != std::string::npos) {
            ::kill(pid, SIGINT);
            interrupted = true;
        }
        if (line.find("\"cancelled\"") != std::string::npos) cancelled_event = true;
    }
    const int status = ::pclose(pipe);
    ASSERT_TRUE(interrupted);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);
    EXPECT_TRUE(cancelled_event);
    EXPECT_FALSE(fs::exists(out_path));
    EXPECT_TRUE(fs::is_empty(dir)) << "temporary files left in " << dir;
}

TEST(CliGenerate, InspectShowsTheManifest) {
    std::string out;
    ASSERT_EQ(run("inspect " + model_dir(), &out), 0) << out;
    for (const char* needle : {"canter-demo", "untrained demo model", "dit.distill", "dit.sr_1080p", "text_encoder",
                               "turbo_vaed", "audio_vae", "256p 540p 1080p"})
        EXPECT_NE(out.find(needle), std::string::npos) << needle << "\n" << out;
}

TEST(CliGenerate, MakeDemoModelWritesAManifest) {
    const std::string dir = testing::temp_dir("cli-make-demo") + "/m";
    std::string out;
    ASSERT_EQ(run("make-demo-model " + dir, &out), 0) << out;
    EXPECT_TRUE(fs::exists(fs::path(dir) / "canter.json"));
    EXPECT_FALSE(fs::exists(dir + ".tmp"));
}

// The memory flags as a user passes them: streaming is reported in --json and on stderr, a bad
// budget exits 2 naming the flag, and a too-small one names the smallest that works.
TEST(CliGenerate, MemoryFlagsStreamReportAndRefuse) {
    const std::string dir = testing::temp_dir("cli-mem");
    std::string out;
    ASSERT_EQ(testing::run_command(kCanter + " generate --prompt 'a cat' --seconds 1 --steps 1 --model " + model_dir() +
                                       " --out " + dir + "/s.mp4 --stream-layers always --json 2>/dev/null",
                                   &out),
              0)
        << out;
    nlohmann::json done;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        const auto j = nlohmann::json::parse(line);
        if (j["event"] == "done") done = j;
    }
    ASSERT_FALSE(done.is_null()) << out;
    ASSERT_EQ(done["streaming"].size(), 2u) << done.dump();  // text and base
    EXPECT_GT(done["streaming"][1]["bytes_read"].get<double>(), 0);
    EXPECT_GT(done["peak_rss_bytes"].get<double>(), 0);
    EXPECT_FALSE(done["memory_plan"].empty());

    EXPECT_EQ(run("generate --prompt x --model " + model_dir() + " --out " + dir + "/b.mp4 --max-memory lots 2>&1", &out), 2);
    EXPECT_NE(out.find("--max-memory expects a size"), std::string::npos) << out;
    EXPECT_EQ(run("generate --prompt x --seconds 1 --model " + model_dir() + " --out " + dir + "/t.mp4 --max-memory 2M 2>&1",
                  &out),
              2);
    EXPECT_NE(out.find("the smallest budget that works is"), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(dir + "/t.mp4"));
}

}  // namespace
}  // namespace canter
