#include "models/t5gemma/t5gemma_model.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "tensor/compat.h"
#include "tensor/ops.h"
#include "util/check.h"

namespace canter::t5gemma {

namespace {

// Score elements per attention block (per batch row): bounds the working set at ~64 MB.
constexpr int64_t kScoreBudget = int64_t(16) << 20;

at::ScalarType matrix_dtype_for(const T5GemmaOptions& options) {
    dit::DitOptions d;
    d.precision = options.precision;
    d.device = options.device;
    return dit::dit_matrix_dtype(d);
}

// The key prefix of the encoder in this checkpoint: `model.encoder.` (the
// T5GemmaForConditionalGeneration layout) or a prefix-less `encoder.`.
std::string encoder_prefix(const io::Checkpoint& ckpt) {
    for (const char* p : {"model.encoder.", "encoder."})
        if (ckpt.contains(std::string(p) + "embed_tokens.weight")) return p;
    return "model.encoder.";  // the binder then reports every key as missing under this name
}

// rotate_half(x) = [-x2 | x1] over the last dim.
at::Tensor rotate_half(const at::Tensor& x) {
    const int64_t half = x.size(-1) / 2;
    return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

void T5GemmaWeights::visit(models::WeightVisitor& v, const T5GemmaConfig& c, const std::string& prefix,
                           at::ScalarType matrix_dtype, at::ScalarType embed_dtype) {
    const int64_t H = c.hidden_size;
    const auto f32 = at::kFloat;
    v.visit(prefix + "embed_tokens.weight", embed_tokens, {c.vocab_size, H}, embed_dtype);
    layers.resize(c.num_hidden_layers);
    for (int i = 0; i < c.num_hidden_layers; ++i) visit_layer(v, c, prefix, i, layers[i], matrix_dtype);
    v.visit(prefix + "norm.weight", norm, {H}, f32);
}

void T5GemmaWeights::visit_layer(models::WeightVisitor& v, const T5GemmaConfig& c, const std::string& prefix, int i,
                                 T5GemmaLayerWeights& l, at::ScalarType matrix_dtype) {
    const int64_t H = c.hidden_size, I = c.intermediate_size, Q = c.q_width(), KV = c.kv_width();
    const auto f32 = at::kFloat;
    const std::string p = prefix + "layers." + std::to_string(i) + ".";
    v.begin_block(i);
    v.visit(p + "pre_self_attn_layernorm.weight", l.pre_self_attn_layernorm, {H}, f32);
    v.visit(p + "post_self_attn_layernorm.weight", l.post_self_attn_layernorm, {H}, f32);
    v.visit(p + "pre_feedforward_layernorm.weight", l.pre_feedforward_layernorm, {H}, f32);
    v.visit(p + "post_feedforward_layernorm.weight", l.post_feedforward_layernorm, {H}, f32);
    v.visit(p + "self_attn.q_proj.weight", l.q_proj, {Q, H}, matrix_dtype);
    v.visit(p + "self_attn.k_proj.weight", l.k_proj, {KV, H}, matrix_dtype);
    v.visit(p + "self_attn.v_proj.weight", l.v_proj, {KV, H}, matrix_dtype);
    v.visit(p + "self_attn.o_proj.weight", l.o_proj, {H, Q}, matrix_dtype);
    v.visit(p + "mlp.gate_proj.weight", l.gate_proj, {I, H}, matrix_dtype);
    v.visit(p + "mlp.up_proj.weight", l.up_proj, {I, H}, matrix_dtype);
    v.visit(p + "mlp.down_proj.weight", l.down_proj, {H, I}, matrix_dtype);
    v.end_block();
}

T5GemmaEncoder T5GemmaEncoder::load(const std::string& dir, const T5GemmaOptions& options) {
    tensor::InferenceGuard guard;
    T5GemmaEncoder enc;
    enc.config_ = T5GemmaConfig::from_model_dir(dir);
    enc.options_ = options;
    io::Checkpoint ckpt = io::Checkpoint::open(dir);
    const std::string prefix = encoder_prefix(ckpt);
    // The embedding keeps its stored floating dtype: a zero-copy view of the bf16 file on the
    // CPU (1.8 GB at real size instead of 3.7 GB widened); only N rows are ever gathered.
    at::ScalarType embed_dtype = at::kFloat;
    const std::string embed_key = prefix + "embed_tokens.weight";
    if (ckpt.contains(embed_key)) {
        const auto d = ckpt.info(embed_key).dtype;
        if (d == io::DType::kBF16) embed_dtype = at::kBFloat16;
        else if (d == io::DType::kF16) embed_dtype = at::kHalf;
    }
    models::StoragePolicy policy;
    policy.device = options.device;
    policy.compute_dtype = matrix_dtype_for(options);
    policy.stream = options.stream_blocks;
    policy.prefetch_wraps = false;  // one pass per prompt: no next step to read ahead for
    auto store = std::make_shared<models::BlockStore>(policy);
    models::CheckpointBinder binder(ckpt, options.device, store.get());
    enc.weights_.visit(binder, enc.config_, prefix, policy.compute_dtype, embed_dtype);
    binder.finish({"model.decoder.", "decoder.", "lm_head."});
    if (!store->empty()) enc.blocks_ = std::move(store);
    enc.key_prefix_ = prefix;
    return enc;
}

models::Footprint T5GemmaEncoder::footprint(const std::string& dir, const T5GemmaOptions& options) {
    const T5GemmaConfig config = T5GemmaConfig::from_model_dir(dir);
    const io::Checkpoint ckpt = io::Checkpoint::open(dir);
    const std::string prefix = encoder_prefix(ckpt);
    at::ScalarType embed_dtype = at::kFloat;  // as load() holds it
    if (ckpt.contains(prefix + "embed_tokens.weight")) {
        const auto d = ckpt.info(prefix + "embed_tokens.weight").dtype;
        if (d == io::DType::kBF16) embed_dtype = at::kBFloat16;
        else if (d == io::DType::kF16) embed_dtype = at::kHalf;
    }
    models::SpecCollector specs;
    T5GemmaWeights w;
    w.visit(specs, config, prefix, matrix_dtype_for(options), embed_dtype);
    return models::footprint(ckpt, specs.specs(), matrix_dtype_for(options));
}

T5GemmaEncoder T5GemmaEncoder::random(const T5GemmaConfig& config, const T5GemmaOptions& options, uint64_t seed) {
    config.validate();
    tensor::InferenceGuard guard;
    T5GemmaEncoder enc;
    enc.config_ = config;
    enc.options_ = options;
    struct RandomFill : models::WeightVisitor {
        RandomFill(at::Generator g, c10::Device d) : gen(std::move(g)), device(d) {}
        at::Generator gen;
        c10::Device device;
        void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
                   at::ScalarType dtype, bool) override {
            at::Tensor t = at::empty(shape, at::kFloat);
            if (shape.size() == 1) t.normal_(0.0, 0.1, gen);  // norm offsets (applied as 1 + w)
            else t.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(shape.back())), gen);
            slot = tensor::round_bf16(t).to(device, dtype);
        }
    } fill(at::make_generator<at::CPUGeneratorImpl>(seed), options.device);
    enc.weights_.visit(fill, config, "model.encoder.", matrix_dtype_for(options), at::kBFloat16);
    return enc;
}

void T5GemmaEncoder::save(const std::string& dir) const {
    std::filesystem::create_directories(dir);
    struct Collect : models::WeightVisitor {
        std::map<std::string, at::Tensor> tensors;
        void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>&, at::ScalarType,
                   bool) override {
            tensors[key] = slot.to(at::kCPU, at::kBFloat16).contiguous();
        }
    } collect;
    // visit() takes the slots by reference; work on a shallow copy so `this` stays const.
    T5GemmaWeights copy = weights_;
    copy.visit(collect, config_, "model.encoder.", at::kFloat, at::kFloat);
    const auto root = std::filesystem::path(dir);
    {
        const std::string path = (root / "config.json").string();
        std::ofstream out(path);
        CANTER_CHECK(out.good(), IO, "T5Gemma: cannot write " << path);
        out << config_.to_json().dump(2) << "\n";
        CANTER_CHECK(out.good(), IO, "T5Gemma: cannot write " << path);
    }
    io::write_safetensors((root / "model.safetensors").string(), collect.tensors, {{"format", "pt"}});
}

at::Tensor masked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& key_mask, double scale, int64_t window, double softcap,
                            int64_t q_block_request) {
    const int64_t B = q.size(0), N = q.size(1), Hq = q.size(2), D = q.size(3), Hkv = k.size(2);
    const int64_t G = Hq / Hkv;
    at::Tensor out = at::empty({B, N, Hq, D}, q.options().dtype(at::kFloat));
    const auto idx_opts = q.options().dtype(at::kLong);
    for (int64_t b = 0; b < B; ++b) {
        // [Hkv, G, N, D]: query head h = kv * G + g reads kv head h / G.
        const at::Tensor qb = q[b].to(at::kFloat).permute({1, 0, 2}).reshape({Hkv, G, N, D});
        const at::Tensor kb = k[b].to(at::kFloat).permute({1, 0, 2});  // [Hkv, N, D]
        const at::Tensor vb = v[b].to(at::kFloat).permute({1, 0, 2});
        const at::Tensor visible = key_mask[b] != 0;                    // [N]
        const int64_t span = window > 0 ? std::min(N, 2 * window - 1) : N;
        const int64_t q_block = q_block_request > 0
                                    ? q_block_request
                                    : std::max<int64_t>(1, std::min(N, kScoreBudget / std::max<int64_t>(1, Hq * span)));
        for (int64_t q0 = 0; q0 < N; q0 += q_block) {
            const int64_t qn = std::min(q_block, N - q0);
            int64_t k0 = 0, k1 = N;
            if (window > 0) {
                k0 = std::max<int64_t>(0, q0 - window + 1);
                k1 = std::min<int64_t>(N, q0 + qn + window - 1);
            }
            const int64_t kn = k1 - k0;
            const at::Tensor qs = qb.narrow(2, q0, qn).reshape({Hkv, G * qn, D});
            const at::Tensor ks = kb.narrow(1, k0, kn);
            at::Tensor s = at::bmm(qs, ks.transpose(1, 2)).mul_(scale);  // [Hkv, G*qn, kn]
            if (softcap > 0) s = at::tanh(s / softcap).mul_(softcap);
            at::Tensor allowed = visible.narrow(0, k0, kn).unsqueeze(0).expand({qn, kn});  // [qn, kn]
            if (window > 0) {
                const at::Tensor qi = at::arange(q0, q0 + qn, idx_opts).unsqueeze(1);
                const at::Tensor kj = at::arange(k0, k1, idx_opts).unsqueeze(0);
                allowed = allowed.logical_and((qi - kj).abs() < window);
            }
            s = s.view({Hkv, G, qn, kn}).masked_fill(allowed.logical_not(), -INFINITY);
            at::Tensor p = at::softmax(s, -1);
            const at::Tensor blind = allowed.any(-1).logical_not();  // rows that see no key
            if (blind.any().item<bool>()) p = p.masked_fill(blind.view({1, 1, qn, 1}), 0.0);
            at::Tensor o = at::bmm(p.view({Hkv, G * qn, kn}), vb.narrow(1, k0, kn));  // [Hkv, G*qn, D]
            out[b].narrow(0, q0, qn).copy_(o.view({Hq, qn, D}).permute({1, 0, 2}));
        }
    }
    return out;
}

T5GemmaLayerWeights T5GemmaEncoder::layer_weights(int i,
                                                  std::shared_ptr<const models::BlockStore::Lease>& lease) const {
    T5GemmaLayerWeights l = weights_.layers.at(i);
    if (!blocks_ || !blocks_->has_block(i)) return l;
    lease.reset();  // the store reuses its buffers: the previous layer's lease must be gone
    lease = blocks_->acquire(i);
    models::BlockStore::LeaseBinder fill(*lease);
    T5GemmaWeights::visit_layer(fill, config_, key_prefix_, i, l, matrix_dtype_for(options_));
    return l;
}

at::Tensor T5GemmaEncoder::forward(const at::Tensor& ids_in, const at::Tensor& mask_in, const T5GemmaTap& tap) const {
    tensor::InferenceGuard guard;
    const T5GemmaConfig& c = config_;
    const auto& w = weights_;
    const auto dev = options_.device;
    const bool bf16 = options_.precision == dit::Precision::kBF16;
    // Upstream runs every activation in bf16: each op's result is rounded once.
    auto R = [bf16](const at::Tensor& x) { return bf16 ? tensor::round_bf16(x) : x; };

    CANTER_CHECK(ids_in.defined() && ids_in.dim() == 2 && !at::isFloatingType(ids_in.scalar_type()),
                 InvalidArgument, "T5Gemma input: ids must be an integer tensor [B, N], got "
                                      << (ids_in.defined() ? shape_str(ids_in.sizes().vec()) : "none"));
    CANTER_CHECK(ids_in.size(0) > 0 && ids_in.size(1) > 0, InvalidArgument,
                 "T5Gemma input: ids must not be empty, got " << shape_str(ids_in.sizes().vec()));
    CANTER_CHECK(mask_in.defined() && mask_in.sizes() == ids_in.sizes(), InvalidArgument,
                 "T5Gemma input: attention mask must have the shape of ids "
                     << shape_str(ids_in.sizes().vec()) << ", got "
                     << (mask_in.defined() ? shape_str(mask_in.sizes().vec()) : "none"));
    const at::Tensor ids = ids_in.to(dev, at::kLong);
    const at::Tensor mask = mask_in.to(dev) != 0;
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    CANTER_CHECK(lo >= 0 && hi < c.vocab_size, InvalidArgument,
                 "T5Gemma input: token id " << (lo < 0 ? lo : hi) << " is outside the vocabulary [0, "
                                            << c.vocab_size << ")");
    const int64_t B = ids.size(0), N = ids.size(1), H = c.hidden_size, D = c.head_dim;
    const int64_t Hq = c.num_attention_heads, Hkv = c.num_key_value_heads;

    // Embedding times sqrt(hidden) as a tensor of the activation dtype (bf16: sqrt(3584) -> 59.75).
    const double normalizer = bf16 ? static_cast<double>(c10::BFloat16(static_cast<float>(std::sqrt(double(H)))))
                                   : static_cast<double>(static_cast<float>(std::sqrt(double(H))));
    at::Tensor h = w.embed_tokens.index_select(0, ids.reshape({-1})).to(at::kFloat).view({B, N, H});
    h = R(h * normalizer);
    if (tap) tap("embed_out", 0, h);

    // RoPE tables [N, D] (rotate-half layout): fp32, then cast to the activation dtype.
    const auto f32 = at::TensorOptions().dtype(at::kFloat).device(dev);
    const at::Tensor inv_freq = at::reciprocal(at::pow(c.rope_theta, at::arange(0, D, 2, f32) / double(D)));
    const at::Tensor freqs = at::arange(0, N, f32).unsqueeze(1) * inv_freq.unsqueeze(0);  // [N, D/2]
    const at::Tensor emb = at::cat({freqs, freqs}, 1);
    const at::Tensor cos = R(emb.cos()).view({1, N, 1, D});
    const at::Tensor sin = R(emb.sin()).view({1, N, 1, D});
    auto rope = [&](const at::Tensor& x) { return R(R(x * cos) + R(rotate_half(x) * sin)); };

    const double scale = 1.0 / std::sqrt(c.query_pre_attn_scalar);
    const double softcap = options_.attention == AttentionImpl::kEager ? c.attn_logit_softcapping : 0.0;
    auto norm = [&](const at::Tensor& x, const at::Tensor& weight) {
        return R(tensor::rms_norm(x, weight, c.rms_norm_eps));
    };
    std::shared_ptr<const models::BlockStore::Lease> lease;
    for (int i = 0; i < c.num_hidden_layers; ++i) {
        const T5GemmaLayerWeights l = layer_weights(i, lease);
        // --- self-attention ---------------------------------------------------------------
        const at::Tensor a = norm(h, l.pre_self_attn_layernorm);
        const at::Tensor q = rope(tensor::linear(a, l.q_proj, {}, bf16).view({B, N, Hq, D}));
        const at::Tensor k = rope(tensor::linear(a, l.k_proj, {}, bf16).view({B, N, Hkv, D}));
        const at::Tensor v = tensor::linear(a, l.v_proj, {}, bf16).view({B, N, Hkv, D});
        const int64_t window = c.is_sliding(i) ? c.sliding_window : 0;
        // SDPA: fp32 softmax inside, output rounded once to the activation dtype.
        const at::Tensor o = R(masked_attention(q, k, v, mask, scale, window, softcap)).view({B, N, Hq * D});
        h = R(h + norm(tensor::linear(o, l.o_proj, {}, bf16), l.post_self_attn_layernorm));
        // --- gated MLP: down(gelu_tanh(gate(x)) * up(x)) -----------------------------------
        const at::Tensor m = norm(h, l.pre_feedforward_layernorm);
        const at::Tensor g = R(at::gelu(tensor::linear(m, l.gate_proj, {}, bf16), "tanh"));
        const at::Tensor f = R(g * tensor::linear(m, l.up_proj, {}, bf16));
        h = R(h + norm(tensor::linear(f, l.down_proj, {}, bf16), l.post_feedforward_layernorm));
        if (tap) tap("layer_out", i, h);
    }
    return norm(h, w.norm);
}

}  // namespace canter::t5gemma
