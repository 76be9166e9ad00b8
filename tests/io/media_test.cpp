// FFmpeg-backed media I/O: image decoding, MP4 writing and probing. Every test image and video is
// generated here. Without FFmpeg the tests check that the functions refuse with kUnsupported.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "io/media/image_reader.h"
#include "io/media/media.h"
#include "io/media/media_probe.h"
#include "io/media/mp4_writer.h"
#include "io/media/png_writer.h"
#include "test_util.h"

namespace canter {
namespace {

namespace fs = std::filesystem;
using media::MediaInfo;

#define REQUIRE_MEDIA() \
    if (!media::media_available()) CANTER_SKIP_OPTIONAL("built without FFmpeg")

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}
std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}
ErrorCode code_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.code();
    }
    return ErrorCode::kInternal;
}
// Max abs difference between two uint8 tensors.
int max_diff(const at::Tensor& a, const at::Tensor& b) {
    return (a.to(at::kInt) - b.to(at::kInt)).abs().max().item<int>();
}
// A test card: four coloured quadrants (big flat areas survive lossy codecs).
at::Tensor quadrants(int64_t h, int64_t w) {
    at::Tensor img = at::empty({h, w, 3}, at::kByte);
    const int colours[4][3] = {{220, 40, 30}, {30, 200, 60}, {40, 50, 210}, {230, 230, 220}};
    for (int q = 0; q < 4; ++q) {
        at::Tensor part = img.slice(0, (q / 2) * h / 2, (q / 2 + 1) * h / 2).slice(1, (q % 2) * w / 2, (q % 2 + 1) * w / 2);
        for (int c = 0; c < 3; ++c) part.select(2, c).fill_(colours[q][c]);
    }
    return img;
}

TEST(Media, AvailabilityMatchesBuild) {
    const std::string desc = media::media_backend_description();
    if (media::media_available()) {
        EXPECT_NE(desc.find("libavcodec"), std::string::npos) << desc;
    } else {
        EXPECT_EQ(code_of([] { media::probe_media("x.mp4"); }), ErrorCode::kUnsupported);
        EXPECT_EQ(code_of([] { media::read_image_rgb("x.png"); }), ErrorCode::kUnsupported);
        EXPECT_EQ(code_of([] { media::write_mp4("x.mp4", at::zeros({1, 2, 2, 3}, at::kByte), {}, 0); }),
                  ErrorCode::kUnsupported);
        EXPECT_NE(testing::error_of([] { media::read_image_rgb("x.png"); }).find("FFmpeg"), std::string::npos);
    }
}

// --- images ---------------------------------------------------------------------------------

TEST(ImageReader, LosslessFormatsRoundTripExactly) {
    REQUIRE_MEDIA();
    const std::string dir = testing::temp_dir("img");
    at::manual_seed(11);
    const at::Tensor img = at::randint(0, 256, {37, 53, 3}, at::kByte);
    media::write_png(dir + "/stored.png", img);  // canter's own PNG writer
    EXPECT_TRUE(at::equal(media::read_image_rgb(dir + "/stored.png"), img));
    write_bytes(dir + "/a.png", media::encode_image(img, "png"));
    EXPECT_TRUE(at::equal(media::read_image_rgb(dir + "/a.png"), img));
    write_bytes(dir + "/a.bmp", media::encode_image(img, "bmp"));
    EXPECT_TRUE(at::equal(media::read_image_rgb(dir + "/a.bmp"), img));
    // The format comes from the signature, not the name.
    write_bytes(dir + "/png_named.jpg", media::encode_image(img, "png"));
    EXPECT_TRUE(at::equal(media::read_image_rgb(dir + "/png_named.jpg"), img));
}

TEST(ImageReader, AlphaDroppedGreyExpanded) {
    REQUIRE_MEDIA();
    const std::string dir = testing::temp_dir("img_alpha");
    at::manual_seed(12);
    const at::Tensor rgba = at::randint(0, 256, {9, 11, 4}, at::kByte);
    write_bytes(dir + "/rgba.png", media::encode_image(rgba, "png"));
    EXPECT_TRUE(at::equal(media::read_image_rgb(dir + "/rgba.png"), rgba.slice(2, 0, 3)));
    const at::Tensor grey = at::randint(0, 256, {9, 11, 1}, at::kByte);
    write_bytes(dir + "/grey.png", media::encode_image(grey, "png"));
    const at::Tensor got = media::read_image_rgb(dir + "/grey.png");
    ASSERT_EQ(got.sizes(), (at::IntArrayRef{9, 11, 3}));
    EXPECT_LE(max_diff(got, grey.expand({9, 11, 3})), 1);  // full-range grey stays itself
}

TEST(ImageReader, LossyFormatsCloseToSource) {
    REQUIRE_MEDIA();
    const std::string dir = testing::temp_dir("img_lossy");
    const at::Tensor img = quadrants(64, 96);
    write_bytes(dir + "/a.jpg", media::encode_image(img, "jpeg", 95));
    const at::Tensor jpg = media::read_image_rgb(dir + "/a.jpg");
    ASSERT_EQ(jpg.sizes(), img.sizes());
    // Compare away from the quadrant edges (ringing); flat areas decode within a few levels.
    auto inner = [](const at::Tensor& t) { return at::cat({t.slice(0, 4, 28), t.slice(0, 36, 60)}).slice(1, 4, 44); };
    EXPECT_LE(max_diff(inner(jpg), inner(img)), 6);
    try {
        write_bytes(dir + "/a.webp", media::encode_image(img, "webp", 95));
    } catch (const Error& e) {
        CANTER_SKIP_OPTIONAL("no WebP encoder to make a test file: " << e.what());
    }
    const at::Tensor webp = media::read_image_rgb(dir + "/a.webp");
    ASSERT_EQ(webp.sizes(), img.sizes());
    EXPECT_LE(max_diff(inner(webp), inner(img)), 8);
    write_bytes(dir + "/a.gif", media::encode_image(img, "gif"));
    ASSERT_EQ(media::read_image_rgb(dir + "/a.gif").sizes(), img.sizes());
}

// Inserts an EXIF APP1 segment with only an Orientation tag right after the JPEG SOI.
std::string with_exif_orientation(const std::string& jpeg, int orientation) {
    std::string tiff("MM\0\x2a\0\0\0\x08", 8);                 // big-endian TIFF header, IFD0 at 8
    tiff += std::string("\0\x01", 2);                           // 1 entry
    tiff += std::string("\x01\x12\0\x03\0\0\0\x01", 8);         // tag 0x0112, SHORT, count 1
    tiff += std::string(1, '\0') + char(orientation) + std::string(2, '\0');
    tiff += std::string(4, '\0');                               // no next IFD
    const std::string payload = std::string("Exif\0\0", 6) + tiff;
    const size_t len = payload.size() + 2;
    std::string app1 = std::string("\xFF\xE1", 2) + char(len >> 8) + char(len & 0xff) + payload;
    return jpeg.substr(0, 2) + app1 + jpeg.substr(2);
}

TEST(ImageReader, ExifOrientationApplied) {
    REQUIRE_MEDIA();
    const std::string dir = testing::temp_dir("img_exif");
    // 32 wide, 64 tall: top half red, bottom half blue.
    at::Tensor img = at::zeros({64, 32, 3}, at::kByte);
    img.slice(0, 0, 32).select(2, 0).fill_(255);
    img.slice(0, 32, 64).select(2, 2).fill_(255);
    const std::string jpeg = media::encode_image(img, "jpeg", 95);
    write_bytes(dir + "/o6.jpg", with_exif_orientation(jpeg, 6));  // rotate 90 clockwise to display
    const at::Tensor got = media::read_image_rgb(dir + "/o6.jpg");
    ASSERT_EQ(got.sizes(), (at::IntArrayRef{32, 64, 3})) << "orientation 6 swaps width and height";
    // Clockwise: the top (red) ends up on the right, the bottom (blue) on the left.
    EXPECT_GT(got[16][56][0].item<int>(), 200);
    EXPECT_GT(got[16][8][2].item<int>(), 200);
    write_bytes(dir + "/o1.jpg", with_exif_orientation(jpeg, 1));
    EXPECT_EQ(media::read_image_rgb(dir + "/o1.jpg").sizes(), img.sizes());
    write_bytes(dir + "/o3.jpg", with_exif_orientation(jpeg, 3));  // 180: blue on top
    const at::Tensor r180 = media::read_image_rgb(dir + "/o3.jpg");
    ASSERT_EQ(r180.sizes(), img.sizes());
    EXPECT_GT(r180[8][16][2].item<int>(), 200);
}

TEST(ImageReader, BadFilesGiveClearErrors) {
    REQUIRE_MEDIA();
    const std::string dir = testing::temp_dir("img_bad");
    const at::Tensor img = quadrants(40, 40);
    const std::string png = media::encode_image(img, "png");
    const std::string jpg = media::encode_image(img, "jpeg", 90);

    auto expect = [&](const std::string& name, const std::string& bytes, ErrorCode code, const std::string& needle,
                      const media::ImageLimits& limits = {}) {
        const std::string path = dir + "/" + name;
        if (!bytes.empty() || name != "missing.png") write_bytes(path, bytes);
        try {
            media::read_image_rgb(path, limits);
            ADD_FAILURE() << name << ": no error";
        } catch (const Error& e) {
            const std::string msg = e.what();
            EXPECT_EQ(e.code(), code) << name << ": " << msg;
            EXPECT_NE(msg.find(path), std::string::npos) << name << ": " << msg;
            EXPECT_NE(msg.find(needle), std::string::npos) << name << ": '" << needle << "' not in: " << msg;
        }
    };
    expect("missing.png", "", ErrorCode::kNotFound, "does not exist");
    expect("empty.png", "", ErrorCode::kInvalidArgument, "empty");
    expect("text.png", "hello, this is not an image\n", ErrorCode::kInvalidArgument, "not a supported image");
    expect("half.png", png.substr(0, png.size() / 2), ErrorCode::kCorruption, "truncated");
    expect("half.jpg", jpg.substr(0, jpg.size() / 2), ErrorCode::kCorruption, "truncated");
    expect("header_only.jpg", jpg.substr(0, 20), ErrorCode::kCorruption, "JPEG");
    std::string flipped = png;
    for (size_t i = png.size() / 2; i < png.size() / 2 + 8; ++i) flipped[i] = char(~flipped[i]);
    expect("corrupt.png", flipped, ErrorCode::kCorruption, "PNG");
    // A valid PNG header claiming 100000 x 100000 pixels: refused before decoding.
    std::string huge = png;
    const char dims[8] = {0, 1, (char)0x86, (char)0xA0, 0, 1, (char)0x86, (char)0xA0};
    huge.replace(16, 8, dims, 8);
    expect("huge.png", huge, ErrorCode::kInvalidArgument, "max_pixels");
    media::ImageLimits small;
    small.max_file_bytes = 100;
    expect("big_file.png", png, ErrorCode::kInvalidArgument, "max_file_bytes", small);
    media::ImageLimits few;
    few.max_pixels = 1000;
    expect("many_pixels.jpg", jpg, ErrorCode::kInvalidArgument, "1600 pixels", few);
    EXPECT_EQ(code_of([&] { media::read_image_rgb(dir); }), ErrorCode::kInvalidArgument);
}

// --- MP4 ---------------------------------------------------------------------------------------

at::Tensor sine(int channels, int64_t samples, int rate) {
    const at::Tensor t = at::arange(samples, at::kDouble) / rate;
    std::vector<at::Tensor> rows;
    for (int c = 0; c < channels; ++c) rows.push_back(0.5 * at::sin(2 * M_PI * (440.0 * (c + 1)) * t));
    return at::stack(rows).to(at::kFloat);
}

TEST(Mp4Writer, VideoAndAudioStreamsAsSpecified) {
    REQUIRE_MEDIA();
    const std::string dir = testing::temp_dir("mp4");
    const std::string path = dir + "/out.mp4";
    at::Tensor frames = at::empty({25, 48, 64, 3}, at::kByte);
    for (int f = 0; f < 25; ++f) frames[f].copy_(quadrants(48, 64).roll({f}, {1}));
    media::write_mp4(path, frames, sine(2, 44100, 44100), 44100);
    EXPECT_EQ(files_in(dir), std::vector<std::string>{"out.mp4"}) << "no temporary left";

    const MediaInfo info = media::probe_media(path);
    EXPECT_TRUE(info.has_video);
    EXPECT_TRUE(info.has_audio);
    EXPECT_EQ(info.video_codec, "h264");
    EXPECT_EQ(info.audio_codec, "aac");
    EXPECT_EQ(info.pix_fmt, "yuv420p");
    EXPECT_EQ(info.width, 64);
    EXPECT_EQ(info.height, 48);
    EXPECT_DOUBLE_EQ(info.fps, 25.0);
    EXPECT_EQ(info.video_frames, 25);
    EXPECT_NEAR(info.video_duration_s, 1.0, 0.04 + 1e-9);
    EXPECT_EQ(info.audio_sample_rate, 44100);
    EXPECT_EQ(info.audio_channels, 2);
    EXPECT_NEAR(info.audio_duration_s, 1.0, 0.03);
    EXPECT_NEAR(info.duration_s, 1.0, 0.05);
    EXPECT_EQ(info.audio_samples, 44100) << "edit list hides the AAC priming samples";
    EXPECT_NE(info.format.find("mp4"), std::string::npos);

    const at::Tensor decoded = media::read_video_frames_rgb(path);
    ASSERT_EQ(decoded.sizes(), frames.sizes());
    // crf 10 keeps flat areas within a few levels; compare away from the colour edges.
    // Frame f has vertical colour edges at columns f and 32 + f: columns 36..52 are flat in 0 and 24.
    const at::Tensor a = decoded.slice(1, 4, 20).slice(2, 36, 52), b = frames.slice(1, 4, 20).slice(2, 36, 52);
    EXPECT_LE(max_diff(a[0], b[0]), 10);
    EXPECT_LE(max_diff(a[24], b[24]), 10);
}

TEST(Mp4Writer, StreamsKeptInFullAndOddSizesPadded) {
    REQUIRE_MEDIA();
    const std::string dir = testing::temp_dir("mp4_len");
    // Like 5 s upstream (126 audio latents vs 125 frames) scaled down: 1.00 s video, 1.04 s audio.
    const std::string path = dir + "/long_audio.mp4";
    media::write_mp4(path, at::full({25, 32, 32, 3}, 90, at::kByte), sine(1, 45864, 44100), 44100);
    MediaInfo info = media::probe_media(path);
    EXPECT_EQ(info.video_frames, 25);
    EXPECT_NEAR(info.video_duration_s, 1.0, 0.04 + 1e-9);
    EXPECT_NEAR(info.audio_duration_s, 1.04, 0.03);
    EXPECT_EQ(info.audio_samples, 45864);
    EXPECT_EQ(info.audio_channels, 1);

    // Odd size: padded to even by repeating the last row/column.
    const std::string odd = dir + "/odd.mp4";
    const at::Tensor colour = at::tensor({200, 60, 30}, at::kByte);
    media::write_mp4(odd, colour.expand({3, 47, 63, 3}).contiguous(), {}, 0, {25, 10, "ultrafast"});
    info = media::probe_media(odd);
    EXPECT_EQ(info.width, 64);
    EXPECT_EQ(info.height, 48);
    EXPECT_FALSE(info.has_audio);
    EXPECT_EQ(info.video_frames, 3);
    const at::Tensor decoded = media::read_video_frames_rgb(odd);
    EXPECT_LE(max_diff(decoded, colour.expand_as(decoded)), 6) << "solid colour survives, including the padding";
}

TEST(Mp4Writer, VideoOnly) {
    REQUIRE_MEDIA();
    const std::string dir = testing::temp_dir("mp4_v");
    media::write_mp4(dir + "/v.mp4", at::zeros({10, 64, 64, 3}, at::kByte), {}, 0, {10, 23, "fast"});
    const MediaInfo info = media::probe_media(dir + "/v.mp4");
    EXPECT_TRUE(info.has_video);
    EXPECT_FALSE(info.has_audio);
    EXPECT_DOUBLE_EQ(info.fps, 10.0);
    EXPECT_EQ(info.video_frames, 10);
    EXPECT_NEAR(info.video_duration_s, 1.0, 0.1 + 1e-9);
    EXPECT_EQ(media::read_video_frames_rgb(dir + "/v.mp4", 4).size(0), 4);
}

TEST(Mp4Writer, ErrorsNameThePathOrParameterAndLeaveNoFile) {
    REQUIRE_MEDIA();
    const std::string dir = testing::temp_dir("mp4_err");
    const at::Tensor frames = at::zeros({2, 16, 16, 3}, at::kByte);
    const at::Tensor audio = at::zeros({2, 1000});
    auto expect = [&](const std::function<void()>& fn, ErrorCode code, const std::vector<std::string>& needles) {
        try {
            fn();
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), code) << e.what();
            for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
        }
    };
    const std::string missing = dir + "/no_such_folder/out.mp4";
    expect([&] { media::write_mp4(missing, frames, audio, 44100); }, ErrorCode::kIO, {missing, "does not exist"});
    const std::string out = dir + "/out.mp4";
    expect([&] { media::write_mp4(out, frames.to(at::kFloat), audio, 44100); }, ErrorCode::kInvalidArgument,
           {out, "uint8 [F, H, W, 3]"});
    expect([&] { media::write_mp4(out, frames, audio, 12345); }, ErrorCode::kInvalidArgument, {"sample_rate 12345", "44100"});
    expect([&] { media::write_mp4(out, frames, audio, 44100, {25, 60}); }, ErrorCode::kInvalidArgument, {"crf"});
    expect([&] { media::write_mp4(out, frames, audio, 44100, {0}); }, ErrorCode::kInvalidArgument, {"fps"});
    expect([&] { media::write_mp4(out, frames, audio, 44100, {25, 10, "warp9"}); }, ErrorCode::kInvalidArgument,
           {out, "warp9"});
    expect([&] { media::write_mp4(out, frames, at::zeros({1000}), 44100); }, ErrorCode::kInvalidArgument, {"audio"});
    expect([&] { media::write_mp4(dir, frames, audio, 44100); }, ErrorCode::kIO, {"folder"});
    EXPECT_TRUE(files_in(dir).empty());

    // A failed write leaves an existing file untouched.
    write_bytes(out, "previous");
    expect([&] { media::write_mp4(out, frames, audio, 44100, {25, 10, "warp9"}); }, ErrorCode::kInvalidArgument, {});
    std::ifstream in(out);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, "previous");
    EXPECT_EQ(files_in(dir), std::vector<std::string>{"out.mp4"});

    if (::geteuid() != 0) {  // root ignores folder permissions
        const std::string ro = dir + "/readonly";
        fs::create_directory(ro);
        fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
        expect([&] { media::write_mp4(ro + "/x.mp4", frames, audio, 44100); }, ErrorCode::kIO, {ro + "/x.mp4"});
        EXPECT_TRUE(files_in(ro).empty());
        fs::permissions(ro, fs::perms::owner_all);
    }
}

TEST(MediaProbe, ErrorsNameTheFile) {
    REQUIRE_MEDIA();
    const std::string dir = testing::temp_dir("probe");
    EXPECT_EQ(code_of([&] { media::probe_media(dir + "/none.mp4"); }), ErrorCode::kNotFound);
    write_bytes(dir + "/junk.mp4", std::string(4096, 'x'));
    const std::string msg = testing::error_of([&] { media::probe_media(dir + "/junk.mp4"); });
    EXPECT_NE(msg.find(dir + "/junk.mp4"), std::string::npos) << msg;
    EXPECT_EQ(code_of([&] { media::probe_media(dir + "/junk.mp4"); }), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace canter
