#include "models/common/weights.h"

#include <ATen/ATen.h>

#include <sstream>

#include "io/checkpoint.h"
#include "util/check.h"

namespace canter::models {

int64_t WeightSpec::numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

void SpecCollector::visit(const std::string& key, at::Tensor&, const std::vector<int64_t>& shape,
                          at::ScalarType dtype, bool required) {
    specs_.push_back(WeightSpec{key, shape, dtype, required});
}

int64_t SpecCollector::parameter_count(bool include_optional) const {
    int64_t n = 0;
    for (const auto& s : specs_)
        if (s.required || include_optional) n += s.numel();
    return n;
}

int64_t SpecCollector::byte_count() const {
    int64_t n = 0;
    for (const auto& s : specs_) n += s.numel() * static_cast<int64_t>(c10::elementSize(s.dtype));
    return n;
}

CheckpointBinder::CheckpointBinder(const io::Checkpoint& checkpoint, c10::Device device)
    : checkpoint_(checkpoint), device_(device) {}

void CheckpointBinder::visit(const std::string& key, at::Tensor& slot,
                             const std::vector<int64_t>& shape, at::ScalarType dtype,
                             bool required) {
    if (!checkpoint_.contains(key)) {
        if (required) problems_.push_back("missing tensor '" + key + "' (expected shape " +
                                          shape_str(shape) + ")");
        return;
    }
    used_.insert(key);
    const auto& info = checkpoint_.info(key);
    if (info.shape != shape) {
        problems_.push_back("tensor '" + key + "' in " + checkpoint_.file_of(key) +
                            " has shape " + shape_str(info.shape) + ", expected " +
                            shape_str(shape));
        return;
    }
    at::Tensor t = checkpoint_.tensor(key);
    if (at::isFloatingType(dtype) && !at::isFloatingType(t.scalar_type())) {
        problems_.push_back("tensor '" + key + "' in " + checkpoint_.file_of(key) + " has dtype " +
                            io::dtype_name(info.dtype) + ", expected a floating-point dtype");
        return;
    }
    // Same dtype on CPU stays a zero-copy view of the mapping.
    slot = t.to(device_, dtype);
}

void CheckpointBinder::finish(const std::vector<std::string>& ignored_prefixes) {
    std::vector<std::string> unexpected;
    for (const auto& name : checkpoint_.names()) {
        if (used_.count(name)) continue;
        bool ignored = false;
        for (const auto& p : ignored_prefixes)
            if (name.compare(0, p.size(), p) == 0) ignored = true;
        if (!ignored) unexpected.push_back(name);
    }
    for (const auto& name : unexpected)
        problems_.push_back("unexpected tensor '" + name + "' (shape " +
                            shape_str(checkpoint_.info(name).shape) + ") in " +
                            checkpoint_.file_of(name));
    if (problems_.empty()) return;
    std::ostringstream os;
    os << checkpoint_.source() << ": weights do not match the model config (" << problems_.size()
       << " problem" << (problems_.size() == 1 ? "" : "s") << "):";
    const size_t kShown = 40;
    for (size_t i = 0; i < problems_.size() && i < kShown; ++i) os << "\n  - " << problems_[i];
    if (problems_.size() > kShown) os << "\n  ... and " << problems_.size() - kShown << " more";
    throw Error(ErrorCode::kInvalidArgument, os.str());
}

}  // namespace canter::models
