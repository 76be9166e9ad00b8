// Where the samplers' standard-normal draws come from. The pipeline uses a seeded generator
// (same seed and call order => same numbers); conformance runs replay the reference's own
// draws, because C++ random numbers cannot reproduce torch's (spec §7).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>

namespace canter::pipeline {

class NoiseSource {
  public:
    virtual ~NoiseSource() = default;
    // A float32 CPU tensor of `shape` with N(0, 1) entries. `name` identifies the draw
    // (e.g. "ddim_noise.3.video", "sr_noise.audio"); draws happen in the upstream order.
    virtual at::Tensor draw(const std::string& name, at::IntArrayRef shape) = 0;
};

// ATen's CPU generator (mt19937) seeded once; the names are ignored, only the order counts.
class SeededNoise : public NoiseSource {
  public:
    explicit SeededNoise(uint64_t seed);
    at::Tensor draw(const std::string& name, at::IntArrayRef shape) override;

  private:
    at::Generator generator_;
};

// Tensors given by name (a case's ddim_noise.{i}.video, sr_noise.video, ...). A missing
// name or a shape mismatch throws naming the draw.
class TensorNoise : public NoiseSource {
  public:
    explicit TensorNoise(std::map<std::string, at::Tensor> tensors);
    at::Tensor draw(const std::string& name, at::IntArrayRef shape) override;

  private:
    std::map<std::string, at::Tensor> tensors_;
};

}  // namespace canter::pipeline
