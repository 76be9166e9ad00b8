// Text conditioning (upstream inference/pipeline/prompt_process.py
// `get_padded_t5_gemma_embedding`, `pad_or_trim`; spec pipeline.md §4): tokenize the prompt,
// encode the WHOLE token sequence with T5Gemma, round to fp16, then zero-pad or trim to the
// target length. The DiT later uses only the first `length` rows.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "models/t5gemma/t5gemma_model.h"
#include "models/t5gemma/tokenizer.h"

namespace canter::pipeline {

struct EncodedPrompt {
    at::Tensor context;       // [1, target_length, hidden] fp32 (fp16-representable values), CPU
    int64_t length = 0;       // rows of `context` that hold the prompt: min(token_count, target_length)
    int64_t token_count = 0;  // tokens the encoder saw (BOS/EOS included)
    bool truncated = false;   // token_count > target_length: rows past target_length were dropped
};

// Throws InvalidArgument if the prompt yields no token at all (empty prompt and no BOS).
EncodedPrompt encode_prompt(const t5gemma::T5GemmaEncoder& encoder, const t5gemma::Tokenizer& tokenizer,
                            const std::string& prompt, int64_t target_length = 640);

// last_hidden_state [1, N, D] -> fp16 rounding (upstream `.half()`; |x| > 65504 becomes inf,
// as upstream) -> first min(N, target_length) rows, zero rows after them -> fp32.
EncodedPrompt pad_or_trim_context(const at::Tensor& last_hidden_state, int64_t target_length);

}  // namespace canter::pipeline
