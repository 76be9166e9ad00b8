// conform text-encoder / tokenizer: the T5Gemma encoder and its tokenizer (golden/t5gemma).
#include <ATen/ATen.h>

#include "conform/conform_internal.h"
#include "models/t5gemma/t5gemma_model.h"
#include "models/t5gemma/tokenizer.h"
#include "pipeline/text_conditioning.h"
#include "util/check.h"

namespace canter::conform {

TensorMap run_text_encoder(const ConformRequest& request, const CaseFile& c) {
    t5gemma::T5GemmaOptions options;
    options.device = device_of(request);
    options.precision = dit::parse_precision(request.precision);
    const auto encoder = t5gemma::T5GemmaEncoder::load(request.model, options);
    const at::Tensor ids = c.input("input.input_ids");
    const at::Tensor mask = c.has("input.attention_mask") ? c.input("input.attention_mask") : at::ones_like(ids);

    TensorMap out;
    const at::Tensor lhs = encoder.forward(ids, mask, [&](const std::string& name, int index, const at::Tensor& t) {
        out[name == "layer_out" ? "layer_out." + std::to_string(index) : name] = t.cpu().clone();
    });
    out["last_hidden_state"] = lhs.cpu();
    // Prompt cases also produce what the DiT receives (upstream get_padded_t5_gemma_embedding).
    if (!c.meta("prompt").is_null()) {
        const auto target = c.meta("target_length");
        CANTER_CHECK(target.is_number_integer(), InvalidArgument,
                     c.path() << ": a prompt case needs an integer __metadata__.target_length, got " << target.dump());
        CANTER_CHECK(ids.size(0) == 1, InvalidArgument,
                     c.path() << ": a prompt case must have one row of input.input_ids, got " << ids.size(0));
        const auto ctx = pipeline::pad_or_trim_context(lhs, target.get<int64_t>());
        out["context"] = ctx.context;
        out["context_len"] = at::full({1}, ctx.length, at::kLong);
    }
    return out;
}

TensorMap run_tokenizer(const ConformRequest& request, const CaseFile& c) {
    const auto strings = c.meta("strings");
    CANTER_CHECK(strings.is_array(), InvalidArgument,
                 c.path() << ": tokenizer case needs __metadata__.strings as a JSON list, got " << strings.dump());
    const auto tokenizer = t5gemma::Tokenizer::load(request.model);
    TensorMap out;
    for (size_t i = 0; i < strings.size(); ++i) {
        CANTER_CHECK(strings[i].is_string(), InvalidArgument,
                     c.path() << ": __metadata__.strings[" << i << "] is not a string: " << strings[i].dump());
        const auto ids = tokenizer.encode(strings[i].get<std::string>());
        out["tokens." + std::to_string(i)] = at::tensor(ids, at::kLong);
    }
    return out;
}

}  // namespace canter::conform
