// The golden cases of the three autoencoders (Wan2.2 VAE, TurboVAED in both configs, Stable Audio
// VAE) on every device, through the conformance runners `canter conform` uses: every tensor a
// runner writes that the case also holds must match it (fp32; the VAEs have no bf16 reference).
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "canter/conform.h"
#include "conform/conform_internal.h"
#include "test_util.h"

namespace canter {
namespace {

using testing::golden;

struct VaeCase {
    std::string kind;  // conform kind
    std::string dir;   // under golden/vae
    std::string device;
};
void PrintTo(const VaeCase& c, std::ostream* os) { *os << c.kind << "/" << c.dir << "/" << c.device; }

class VaeGoldenOnDevice : public ::testing::TestWithParam<VaeCase> {};

TEST_P(VaeGoldenOnDevice, EveryReferenceTensorMatches) {
    const VaeCase& tc = GetParam();
    CANTER_SKIP_UNLESS_DEVICE(tc.device);
    ConformRequest request;
    request.kind = tc.kind;
    request.model = golden("vae/" + tc.dir);
    request.case_path = golden("vae/" + tc.dir + "/case.safetensors");
    request.device = tc.device;
    const conform::CaseFile c(request.case_path);
    conform::TensorMap out;
    if (tc.kind == "wan-vae") out = conform::run_wan_vae(request, c);
    else if (tc.kind == "turbo-vaed") out = conform::run_turbo_vaed(request, c);
    else out = conform::run_audio_vae(request, c);

    int compared = 0;
    for (const auto& [name, got] : out) {
        if (!c.has(name)) continue;
        const at::Tensor expected = c.input(name);
        // golden/README.md: VAEs fp32 1e-4, relative to the output's scale.
        const double tol = 1e-4 * std::max(1.0, expected.abs().max().item<double>());
        EXPECT_TRUE(testing::near(got, expected, tol, tc.dir + " " + name + " on " + tc.device));
        ++compared;
    }
    EXPECT_GE(compared, 1) << "the runner wrote no tensor the case holds";
}

INSTANTIATE_TEST_SUITE_P(AllCases, VaeGoldenOnDevice, ::testing::ValuesIn([] {
                             std::vector<VaeCase> cases;
                             for (const std::string& device : testing::golden_devices()) {
                                 cases.push_back({"wan-vae", "wan22", device});
                                 cases.push_back({"turbo-vaed", "turbo_vaed", device});
                                 cases.push_back({"turbo-vaed", "turbo_vaed_real", device});
                                 cases.push_back({"audio-vae", "sa_audio", device});
                             }
                             return cases;
                         }()),
                         [](const ::testing::TestParamInfo<VaeCase>& info) {
                             return info.param.dir + "_" + info.param.device;
                         });

}  // namespace
}  // namespace canter
