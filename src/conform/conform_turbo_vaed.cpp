// conform turbo-vaed: decode every `<name>.input_latent` of the case on its own with
// TurboVAED.decode (sliding windows) and write `<name>.output_video`
// (golden/vae/turbo_vaed*, model folder = config.json + weights.safetensors).
#include <ATen/ATen.h>

#include "conform/conform_internal.h"
#include "models/common/wan_latent_scale.h"
#include "models/turbo_vaed/turbo_vaed.h"
#include "util/check.h"

namespace canter::conform {

namespace {

const std::string kInputSuffix = ".input_latent";

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TensorMap run_turbo_vaed(const ConformRequest& request, const CaseFile& c) {
    turbo_vaed::TurboVaedOptions options;
    options.device = device_of(request);
    // bf16 = upstream's numerics as far as values go: weights and the de-normalised latent
    // rounded to bf16, arithmetic in fp32 (no bf16 golden exists for the VAEs).
    options.bf16_rounding = request.precision == "bf16";
    const auto model = turbo_vaed::TurboVaed::load_dir(request.model, options);

    TensorMap out;
    for (const auto& name : c.names()) {
        if (!ends_with(name, kInputSuffix)) continue;
        const std::string base = name.substr(0, name.size() - kInputSuffix.size());
        try {
            out[base + ".output_video"] = model.decode(c.input(name)).to(at::kCPU);
        } catch (const Error& e) {
            throw Error(e.code(), c.path() + ": " + name + ": " + e.what());
        }
    }
    CANTER_CHECK(!out.empty(), NotFound,
                 c.path() << ": case has no '<name>" << kInputSuffix << "' tensor to decode");
    out["scale.mean"] = models::wan_latent_mean();
    out["scale.inv_std"] = models::wan_latent_inv_std();
    return out;
}

}  // namespace canter::conform
