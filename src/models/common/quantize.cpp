#include "models/common/quantize.h"

#include <ATen/ATen.h>

#include <cmath>

#include "util/check.h"

namespace canter::models {

namespace {
constexpr const char* kScaleSuffix = "_scale";
constexpr double kInt8Max = 127.0;
constexpr double kFp8Max = 448.0;  // largest finite float8_e4m3fn
}  // namespace

const char* weight_format_name(WeightFormat f) {
    switch (f) {
        case WeightFormat::kInt8: return "int8";
        case WeightFormat::kFp8: return "fp8";
        case WeightFormat::kAsStored: break;
    }
    return "as stored";
}

WeightFormat parse_weight_format(const std::string& s) {
    if (s == "int8") return WeightFormat::kInt8;
    if (s == "fp8") return WeightFormat::kFp8;
    CANTER_THROW(InvalidArgument, "weight format must be 'int8' or 'fp8', got '" << s << "'");
}

std::string scale_key(const std::string& key) { return key + kScaleSuffix; }

bool is_scale_key(const std::string& key) {
    const std::string suffix = std::string(".weight") + kScaleSuffix;
    return key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_quantized_dtype(at::ScalarType dtype) { return dtype == at::kChar || dtype == at::kFloat8_e4m3fn; }

QuantizedMatrix quantize_rows(const at::Tensor& w, WeightFormat format) {
    CANTER_CHECK(w.dim() == 2, InvalidArgument, "quantize: expected a 2-D matrix, got " << w.sizes());
    CANTER_CHECK(format != WeightFormat::kAsStored, Internal, "quantize: no target format");
    const double qmax = format == WeightFormat::kInt8 ? kInt8Max : kFp8Max;
    const at::Tensor wf = w.to(at::kFloat);
    at::Tensor amax = wf.abs().amax(1);
    // Scales are bf16-representable (stored as F32): dequantizing into bf16 multiplies by the
    // scale in bf16 (one fast pass, see dequantize_into) and then loses nothing to the scale.
    // Rounded up, so amax / scale stays within the format's range.
    at::Tensor scale = at::where(amax > 0, amax / qmax, at::ones_like(amax));
    const at::Tensor rounded = scale.to(at::kBFloat16).to(at::kFloat);
    scale = at::where(rounded < scale, at::nextafter(rounded.to(at::kBFloat16), at::full_like(rounded, INFINITY).to(at::kBFloat16)).to(at::kFloat), rounded);
    at::Tensor scaled = (wf / scale.unsqueeze(1)).clamp(-qmax, qmax);
    QuantizedMatrix q;
    q.values = format == WeightFormat::kInt8 ? scaled.round().to(at::kChar) : scaled.to(at::kFloat8_e4m3fn);
    q.scale = scale.contiguous();
    return q;
}

void dequantize_into(at::Tensor& out, const at::Tensor& values, const at::Tensor& scale) {
    CANTER_CHECK(values.dim() == 2 && scale.dim() == 1 && scale.size(0) == values.size(0) &&
                     out.sizes() == values.sizes(),
                 Internal, "dequantize: values " << values.sizes() << ", scale " << scale.sizes() << ", out "
                                                 << out.sizes());
    // Two same-dtype passes: widen (exact: int8 and e4m3 values fit bf16), then scale rows. A
    // single mixed-dtype mul (int8 * fp32 -> bf16) is ~15x slower on CPUs (0.5 s per real
    // matrix). In bf16 the scale is rounded to bf16: exact for scales canter writes (see
    // quantize_rows), <= 2^-9 relative per row for other files.
    out.copy_(values);
    out.mul_(scale.to(out.device(), out.scalar_type()).unsqueeze(1));
}

at::Tensor dequantize(const at::Tensor& values, const at::Tensor& scale, at::ScalarType dtype) {
    at::Tensor out = at::empty(values.sizes(), values.options().dtype(dtype));
    dequantize_into(out, values, scale);
    return out;
}

}  // namespace canter::models
