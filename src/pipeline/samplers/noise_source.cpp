#include "pipeline/samplers/noise_source.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <utility>

#include "util/check.h"

namespace canter::pipeline {

SeededNoise::SeededNoise(uint64_t seed) : generator_(at::detail::createCPUGenerator(seed)) {}

at::Tensor SeededNoise::draw(const std::string&, at::IntArrayRef shape) {
    // ATen's CPU sampling kernels take the generator's mutex themselves.
    return at::randn(shape, generator_, at::TensorOptions().dtype(at::kFloat));
}

TensorNoise::TensorNoise(std::map<std::string, at::Tensor> tensors)
    : tensors_(std::move(tensors)) {}

at::Tensor TensorNoise::draw(const std::string& name, at::IntArrayRef shape) {
    auto it = tensors_.find(name);
    CANTER_CHECK(it != tensors_.end(), NotFound, "noise tensor '" << name << "' was not supplied");
    CANTER_CHECK(it->second.sizes() == shape, InvalidArgument,
                 "noise tensor '" << name << "' has shape " << it->second.sizes()
                                  << ", the sampler needs " << shape);
    return it->second.to(at::kFloat).clone();
}

}  // namespace canter::pipeline
