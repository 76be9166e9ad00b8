#include "models/dit/dit_model.h"

#include <ATen/ATen.h>

#include <cmath>

#include "io/checkpoint.h"
#include "models/dit/rope.h"
#include "tensor/compat.h"
#include "tensor/ops.h"
#include "util/check.h"

namespace canter::dit {

namespace {

// Contiguous row ranges of the three modalities in the packed sequence.
struct Segments {
    int64_t begin[kNumModalities];
    int64_t end[kNumModalities];
};

Segments segments_of(const DitSequence& seq) {
    Segments s{};
    s.begin[kVideo] = 0;
    s.end[kVideo] = seq.num_video();
    s.begin[kAudio] = s.end[kVideo];
    s.end[kAudio] = s.begin[kAudio] + seq.num_audio();
    s.begin[kText] = s.end[kAudio];
    s.end[kText] = s.begin[kText] + seq.num_text();
    return s;
}

// Applies `fn(rows, expert)` per modality (E = 3) or once to all rows (E = 1) and
// reassembles the rows in sequence order.
template <typename Fn>
at::Tensor per_expert(const at::Tensor& x, int experts, const Segments& seg, Fn fn) {
    if (experts == 1) return fn(x, 0);
    std::vector<at::Tensor> parts;
    for (int m = 0; m < kNumModalities; ++m) {
        const int64_t n = seg.end[m] - seg.begin[m];
        if (n > 0) parts.push_back(fn(x.narrow(0, seg.begin[m], n), m));
    }
    return at::cat(parts, 0);
}

at::Tensor expert_chunk(const at::Tensor& w, int experts, int m) {
    return experts == 1 ? w : w.chunk(experts, 0)[m];
}

at::Tensor gelu7(const at::Tensor& x) {
    at::Tensor c = at::clamp_max(x, 7.0);
    return c * at::sigmoid(1.702 * c);
}

// Up-projection rows alternate glu, linear ([..., ::2] and [..., 1::2] upstream).
at::Tensor swiglu7(const at::Tensor& u) {
    at::Tensor pair = u.view({u.size(0), -1, 2});
    at::Tensor glu = at::clamp_max(pair.select(2, 0), 7.0);
    at::Tensor lin = at::clamp(pair.select(2, 1), -7.0, 7.0);
    return glu * at::sigmoid(1.702 * glu) * (lin + 1.0);
}

}  // namespace

const char* precision_name(Precision p) { return p == Precision::kFP32 ? "fp32" : "bf16"; }

Precision parse_precision(const std::string& s) {
    if (s == "fp32") return Precision::kFP32;
    if (s == "bf16") return Precision::kBF16;
    CANTER_THROW(InvalidArgument, "precision must be 'fp32' or 'bf16', got '" << s << "'");
}

at::ScalarType dit_matrix_dtype(const DitOptions& options) {
    if (options.precision == Precision::kBF16 && tensor::has_fast_bf16_matmul(options.device))
        return at::kBFloat16;
    return at::kFloat;
}

void DitWeights::visit(models::WeightVisitor& v, const DitConfig& c, at::ScalarType matrix_dtype) {
    const int64_t H = c.hidden_size;
    const auto f32 = at::kFloat;
    v.visit("adapter.video_embedder.weight", video_embedder_w, {H, c.video_in_channels}, f32);
    v.visit("adapter.video_embedder.bias", video_embedder_b, {H}, f32);
    v.visit("adapter.text_embedder.weight", text_embedder_w, {H, c.text_in_channels}, f32);
    v.visit("adapter.text_embedder.bias", text_embedder_b, {H}, f32);
    v.visit("adapter.audio_embedder.weight", audio_embedder_w, {H, c.audio_in_channels}, f32);
    v.visit("adapter.audio_embedder.bias", audio_embedder_b, {H}, f32);
    v.visit("adapter.rope.bands", rope_bands, {c.rope_bands()}, f32, /*required=*/false);
    layers.resize(c.num_layers);
    for (int i = 0; i < c.num_layers; ++i) visit_layer(v, c, i, layers[i], matrix_dtype);
    v.visit("final_norm_video.weight", final_norm_video, {H}, f32);
    v.visit("final_norm_audio.weight", final_norm_audio, {H}, f32);
    v.visit("final_linear_video.weight", final_linear_video, {c.video_in_channels, H}, f32);
    v.visit("final_linear_audio.weight", final_linear_audio, {c.audio_in_channels, H}, f32);
}

void DitWeights::visit_layer(models::WeightVisitor& v, const DitConfig& c, int i, DitLayerWeights& l,
                             at::ScalarType matrix_dtype) {
    const int64_t H = c.hidden_size, D = c.head_dim;
    const auto f32 = at::kFloat;
    const int64_t E = c.experts(i);
    const std::string p = "block.layers." + std::to_string(i) + ".";
    v.begin_block(i);
    v.visit(p + "attention.pre_norm.weight", l.attn_pre_norm, {E * H}, f32);
    v.visit(p + "attention.linear_qkv.weight", l.linear_qkv, {E * c.qkv_rows(), H}, matrix_dtype);
    v.visit(p + "attention.q_norm.weight", l.q_norm, {E * D}, f32);
    v.visit(p + "attention.k_norm.weight", l.k_norm, {E * D}, f32);
    v.visit(p + "attention.linear_proj.weight", l.linear_proj, {E * H, int64_t(c.num_heads_q) * D}, matrix_dtype);
    v.visit(p + "mlp.pre_norm.weight", l.mlp_pre_norm, {E * H}, f32);
    v.visit(p + "mlp.up_gate_proj.weight", l.up_gate_proj, {E * c.mlp_up_rows(i), H}, matrix_dtype);
    v.visit(p + "mlp.down_proj.weight", l.down_proj, {E * H, c.mlp_inner(i)}, matrix_dtype);
    v.end_block();
}

DitModel DitModel::load(const std::string& path, const DitConfig& config, const DitOptions& options) {
    config.validate();
    tensor::InferenceGuard guard;
    DitModel model;
    model.config_ = config;
    model.options_ = options;
    io::Checkpoint ckpt = io::Checkpoint::open(path);
    models::StoragePolicy policy;
    policy.device = options.device;
    policy.compute_dtype = dit_matrix_dtype(options);
    policy.stream = options.stream_blocks;
    auto store = std::make_shared<models::BlockStore>(policy);
    models::CheckpointBinder binder(ckpt, options.device, store.get());
    model.weights_.visit(binder, config, policy.compute_dtype);
    binder.finish();
    if (!store->empty()) model.blocks_ = std::move(store);
    if (!model.weights_.rope_bands.defined())
        model.weights_.rope_bands = rope_bands(config.head_dim).to(options.device);
    return model;
}

models::Footprint DitModel::footprint(const std::string& path, const DitConfig& config, const DitOptions& options) {
    const io::Checkpoint ckpt = io::Checkpoint::open(path);
    models::SpecCollector specs;
    DitWeights w;
    w.visit(specs, config, dit_matrix_dtype(options));
    return models::footprint(ckpt, specs.specs(), dit_matrix_dtype(options));
}

DitModel DitModel::random(const DitConfig& config, const DitOptions& options, uint64_t seed) {
    config.validate();
    tensor::InferenceGuard guard;
    DitModel model;
    model.config_ = config;
    model.options_ = options;
    struct RandomFill : models::WeightVisitor {
        RandomFill(at::Generator g, c10::Device d) : gen(std::move(g)), device(d) {}
        at::Generator gen;
        c10::Device device;
        void visit(const std::string& key, at::Tensor& slot, const std::vector<int64_t>& shape,
                   at::ScalarType dtype, bool) override {
            const bool is_norm = key.find("norm") != std::string::npos;
            const bool is_bias = key.size() > 5 && key.compare(key.size() - 5, 5, ".bias") == 0;
            at::Tensor t = at::empty(shape, at::kFloat);
            if (is_norm) t.normal_(0.0, 0.1, gen);
            else if (is_bias) t.normal_(0.0, 0.02, gen);
            else t.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(shape.back())), gen);
            // Block matrices hold bf16-representable values, as the real checkpoints do.
            if (shape.size() == 2 && key.rfind("block.", 0) == 0) t = tensor::round_bf16(t);
            slot = t.to(device, dtype);
        }
    } fill(at::make_generator<at::CPUGeneratorImpl>(seed), options.device);
    model.weights_.visit(fill, config, dit_matrix_dtype(options));
    model.weights_.rope_bands = rope_bands(config.head_dim).to(options.device);
    return model;
}

DitLayerWeights DitModel::layer_weights(int i, std::shared_ptr<const models::BlockStore::Lease>& lease) const {
    DitLayerWeights w = weights_.layers.at(i);
    if (!blocks_ || !blocks_->has_block(i)) return w;
    lease.reset();  // the store reuses its buffers: the previous layer's lease must be gone
    lease = blocks_->acquire(i);
    models::BlockStore::LeaseBinder fill(*lease);
    DitWeights::visit_layer(fill, config_, i, w, dit_matrix_dtype(options_));
    return w;
}

at::Tensor DitModel::forward_layer(int i, const at::Tensor& x, const DitSequence& seq, const at::Tensor& rope_sin,
                                   const at::Tensor& rope_cos) const {
    std::shared_ptr<const models::BlockStore::Lease> lease;
    return run_layer(i, layer_weights(i, lease), x, seq, rope_sin, rope_cos);
}

at::Tensor DitModel::run_layer(int i, const DitLayerWeights& w, const at::Tensor& x_in, const DitSequence& seq,
                               const at::Tensor& rope_sin, const at::Tensor& rope_cos) const {
    const DitConfig& c = config_;
    const bool bf16 = options_.precision == Precision::kBF16;
    const int E = c.experts(i);
    const Segments seg = segments_of(seq);
    const int64_t L = x_in.size(0), Hq = c.num_heads_q, Hkv = c.num_heads_kv, D = c.head_dim;
    const RopeTable rope{rope_sin, rope_cos};
    at::Tensor x = x_in;

    // --- attention -------------------------------------------------------------------------
    at::Tensor qkv = per_expert(x, E, seg, [&](const at::Tensor& rows, int m) {
        at::Tensor h = tensor::rms_norm(rows, expert_chunk(w.attn_pre_norm, E, m));
        return tensor::linear(h, expert_chunk(w.linear_qkv, E, m), {}, bf16);
    });  // [L, qkv_rows]
    at::Tensor q = qkv.narrow(1, 0, Hq * D);
    at::Tensor k = qkv.narrow(1, Hq * D, Hkv * D);
    at::Tensor v = qkv.narrow(1, (Hq + Hkv) * D, Hkv * D).reshape({L, Hkv, D});
    // q/k RMSNorm over head_dim with the token's modality weight.
    q = per_expert(q, E, seg, [&](const at::Tensor& rows, int m) {
        return tensor::rms_norm(rows.reshape({rows.size(0), Hq, D}), expert_chunk(w.q_norm, E, m));
    });
    k = per_expert(k, E, seg, [&](const at::Tensor& rows, int m) {
        return tensor::rms_norm(rows.reshape({rows.size(0), Hkv, D}), expert_chunk(w.k_norm, E, m));
    });
    q = apply_rope(q, rope);
    k = apply_rope(k, rope);
    static const std::vector<tensor::AttnRange> kFull;
    const auto& ranges = c.is_local_attn_layer(i) ? seq.local_ranges : kFull;
    tensor::AttentionOptions attn_options = options_.attention;
    // Upstream hands bf16 q/k/v to flash attention and gets bf16 back; attention does both casts.
    attn_options.bf16 = bf16;
    at::Tensor o = tensor::attention(q, k, v, ranges, 1.0 / std::sqrt(static_cast<double>(D)), attn_options);
    if (c.enable_attn_gating) {
        at::Tensor gate = qkv.narrow(1, (Hq + 2 * Hkv) * D, Hq);  // [L, Hq]
        o = o * at::sigmoid(gate).unsqueeze(2);
    }
    o = o.reshape({L, Hq * D});
    at::Tensor proj = per_expert(o, E, seg, [&](const at::Tensor& rows, int m) {
        return tensor::linear(rows, expert_chunk(w.linear_proj, E, m), {}, bf16);
    });
    x = x + proj;

    // --- MLP -------------------------------------------------------------------------------
    const bool gelu = c.is_gelu7_layer(i);
    at::Tensor mlp = per_expert(x, E, seg, [&](const at::Tensor& rows, int m) {
        at::Tensor h = tensor::rms_norm(rows, expert_chunk(w.mlp_pre_norm, E, m));
        at::Tensor u = tensor::linear(h, expert_chunk(w.up_gate_proj, E, m), {}, bf16);
        at::Tensor a = gelu ? gelu7(u) : swiglu7(u);
        return tensor::linear(a, expert_chunk(w.down_proj, E, m), {}, bf16);
    });
    return x + mlp;
}

DitOutput DitModel::forward(const DitSequence& seq, const DitTap& tap) const {
    tensor::InferenceGuard guard;
    const DitConfig& c = config_;
    const auto dev = options_.device;
    CANTER_CHECK(seq.video.dim() == 2 && seq.video.size(1) == c.video_in_channels, InvalidArgument,
                 "DiT input: video tokens must be [N, " << c.video_in_channels << "], got "
                                                        << seq.video.sizes());
    CANTER_CHECK(seq.audio.dim() == 2 && seq.audio.size(1) == c.audio_in_channels, InvalidArgument,
                 "DiT input: audio tokens must be [N, " << c.audio_in_channels << "], got "
                                                        << seq.audio.sizes());
    CANTER_CHECK(seq.text.dim() == 2 && seq.text.size(1) == c.text_in_channels, InvalidArgument,
                 "DiT input: text tokens must be [N, " << c.text_in_channels << "], got "
                                                       << seq.text.sizes());
    CANTER_CHECK(seq.coords.dim() == 2 && seq.coords.size(0) == seq.length() && seq.coords.size(1) == 9,
                 InvalidArgument, "DiT input: coords must be [" << seq.length() << ", 9], got "
                                                                << seq.coords.sizes());
    const auto& w = weights_;
    auto f32 = [&](const at::Tensor& t) { return t.to(dev, at::kFloat); };
    at::Tensor x = at::cat({at::linear(f32(seq.video), w.video_embedder_w, w.video_embedder_b),
                            at::linear(f32(seq.audio), w.audio_embedder_w, w.audio_embedder_b),
                            at::linear(f32(seq.text), w.text_embedder_w, w.text_embedder_b)},
                           0);  // [L, H]
    if (tap) tap("adapter_out", x);
    RopeTable rope = rope_table(f32(seq.coords), w.rope_bands);
    if (tap) tap("rope", at::cat({rope.sin, rope.cos}, 1));
    std::shared_ptr<const models::BlockStore::Lease> lease;
    for (int i = 0; i < c.num_layers; ++i) {
        x = run_layer(i, layer_weights(i, lease), x, seq, rope.sin, rope.cos);
        if (tap) tap("layer_out." + std::to_string(i), x);
    }
    lease.reset();
    const int64_t nv = seq.num_video(), na = seq.num_audio();
    DitOutput out;
    out.video = at::linear(tensor::rms_norm(x.narrow(0, 0, nv), w.final_norm_video), w.final_linear_video);
    out.audio = at::linear(tensor::rms_norm(x.narrow(0, nv, na), w.final_norm_audio), w.final_linear_audio);
    return out;
}

}  // namespace canter::dit
