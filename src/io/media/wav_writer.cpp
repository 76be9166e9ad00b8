#include "io/media/wav_writer.h"

#include <ATen/ATen.h>

#include <cstdint>

#include "io/media/atomic_file.h"
#include "util/check.h"

namespace canter::media {

namespace {

void put_u16(std::string& out, uint32_t v) {
    out.push_back(static_cast<char>(v & 0xff));
    out.push_back(static_cast<char>((v >> 8) & 0xff));
}
void put_u32(std::string& out, uint32_t v) {
    put_u16(out, v & 0xffff);
    put_u16(out, v >> 16);
}

}  // namespace

std::string encode_wav(const at::Tensor& audio, int sample_rate) {
    CANTER_CHECK(audio.defined(), InvalidArgument, "WAV: audio tensor is undefined");
    CANTER_CHECK(audio.dim() == 2 && at::isFloatingType(audio.scalar_type()), InvalidArgument,
                 "WAV: audio must be a float tensor [channels, samples], got "
                     << audio.sizes() << " " << audio.scalar_type());
    const int64_t channels = audio.size(0), samples = audio.size(1);
    CANTER_CHECK(channels >= 1 && channels <= 16, InvalidArgument,
                 "WAV: channel count must be 1..16, got " << channels);
    CANTER_CHECK(sample_rate > 0 && sample_rate <= 768000, InvalidArgument,
                 "WAV: sample_rate must be in 1..768000, got " << sample_rate);
    const uint64_t data_bytes = uint64_t(samples) * uint64_t(channels) * 2;
    CANTER_CHECK(data_bytes <= 0xFFFFFFFFull - 36, InvalidArgument,
                 "WAV: " << samples << " samples x " << channels << " channels exceed the 4 GiB WAV limit");

    // [C,N] -> [N,C] int16, rounded half to even like lrintf in libsndfile.
    const at::Tensor pcm = at::nan_to_num(audio.detach().to(at::kCPU, at::kFloat), 0.0)
                               .clamp(-1.0, 1.0)
                               .mul(32767.0)
                               .round()
                               .to(at::kShort)
                               .t()
                               .contiguous();

    std::string out;
    out.reserve(44 + data_bytes);
    out += "RIFF";
    put_u32(out, uint32_t(36 + data_bytes));
    out += "WAVEfmt ";
    put_u32(out, 16);  // fmt chunk size
    put_u16(out, 1);   // PCM
    put_u16(out, uint32_t(channels));
    put_u32(out, uint32_t(sample_rate));
    put_u32(out, uint32_t(sample_rate * channels * 2));  // byte rate
    put_u16(out, uint32_t(channels * 2));                // block align
    put_u16(out, 16);                                    // bits per sample
    out += "data";
    put_u32(out, uint32_t(data_bytes));
    const int16_t* p = pcm.data_ptr<int16_t>();
    for (int64_t i = 0, n = pcm.numel(); i < n; ++i) put_u16(out, uint16_t(p[i]));
    return out;
}

void write_wav(const std::string& path, const at::Tensor& audio, int sample_rate) {
    std::string bytes;
    try {
        bytes = encode_wav(audio, sample_rate);
    } catch (const Error& e) {
        CANTER_THROW(InvalidArgument, "cannot write '" << path << "': " << e.what());
    }
    write_file_atomic(path, bytes);
}

}  // namespace canter::media
