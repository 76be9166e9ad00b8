#include "pipeline/text_conditioning.h"

#include <ATen/ATen.h>

#include "tensor/compat.h"
#include "util/check.h"

namespace canter::pipeline {

EncodedPrompt pad_or_trim_context(const at::Tensor& last_hidden_state, int64_t target_length) {
    tensor::InferenceGuard guard;
    CANTER_CHECK(target_length > 0, InvalidArgument,
                 "text conditioning: target length must be positive, got " << target_length);
    CANTER_CHECK(last_hidden_state.defined() && last_hidden_state.dim() == 3 && last_hidden_state.size(0) == 1,
                 InvalidArgument,
                 "text conditioning: expected an encoder output [1, N, D], got "
                     << (last_hidden_state.defined() ? shape_str(last_hidden_state.sizes().vec()) : "none"));
    const int64_t n = last_hidden_state.size(1), d = last_hidden_state.size(2);
    EncodedPrompt out;
    out.token_count = n;
    out.length = std::min(n, target_length);
    out.truncated = n > target_length;
    const at::Tensor half = last_hidden_state.narrow(1, 0, out.length).to(at::kCPU).to(at::kHalf).to(at::kFloat);
    out.context = at::zeros({1, target_length, d}, at::kFloat);
    out.context.narrow(1, 0, out.length).copy_(half);
    return out;
}

EncodedPrompt encode_prompt(const t5gemma::T5GemmaEncoder& encoder, const t5gemma::Tokenizer& tokenizer,
                            const std::string& prompt, int64_t target_length) {
    CANTER_CHECK(target_length > 0, InvalidArgument,
                 "text conditioning: target length must be positive, got " << target_length);
    const std::vector<int64_t> ids = tokenizer.encode(prompt);
    CANTER_CHECK(!ids.empty(), InvalidArgument,
                 "text conditioning: the prompt produced no tokens (empty prompt and the tokenizer adds no BOS)");
    tensor::InferenceGuard guard;
    const int64_t n = static_cast<int64_t>(ids.size());
    const at::Tensor id_tensor = at::tensor(ids, at::kLong).view({1, n});
    const at::Tensor mask = at::ones({1, n}, at::kLong);  // batch of one, never padded (as upstream)
    return pad_or_trim_context(encoder.forward(id_tensor, mask), target_length);
}

}  // namespace canter::pipeline
