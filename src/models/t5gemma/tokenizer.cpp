#include "models/t5gemma/tokenizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <sstream>
#include <type_traits>

#include "util/check.h"
#include "util/json_file.h"

#ifndef CANTER_HAVE_SENTENCEPIECE
#define CANTER_HAVE_SENTENCEPIECE 0
#endif

#if CANTER_HAVE_SENTENCEPIECE
#include <dlfcn.h>
#include <unistd.h>

#include <mutex>

#include "sentencepiece/spm_module_api.h"
#endif

namespace canter::t5gemma {

namespace {

[[noreturn, maybe_unused]] void throw_no_sentencepiece(const char* what) {
    CANTER_THROW(Unsupported, "this build has no SentencePiece, so " << what << " is not available "
                                                                     << "(install libsentencepiece-dev and "
                                                                     << "reconfigure with CMake)");
}

// A special token in tokenizer_config.json: "<bos>" or {"content": "<bos>", ...}.
[[maybe_unused]] std::string token_string(const nlohmann::json& cfg, const std::string& key, const std::string& fallback,
                         const std::string& path) {
    auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return fallback;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && it->at("content").is_string())
        return it->at("content").get<std::string>();
    CANTER_THROW(InvalidArgument, path << ": field '" << key << "' must be a string or {\"content\": ...}, got "
                                       << it->dump());
}

[[maybe_unused]] bool flag(const nlohmann::json& cfg, const std::string& key, bool fallback, const std::string& path) {
    auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return fallback;
    CANTER_CHECK(it->is_boolean(), InvalidArgument,
                 path << ": field '" << key << "' must be true or false, got " << it->dump());
    return it->get<bool>();
}

}  // namespace

#if CANTER_HAVE_SENTENCEPIECE

namespace {

// The SentencePiece module (spm_module_api.h), loaded once into its own link-map namespace.
struct SpmModule {
    std::string error;  // why it could not be loaded ("" when loaded)
    std::string path;
    decltype(&canter_spm_open) open = nullptr;
    decltype(&canter_spm_close) close = nullptr;
    decltype(&canter_spm_encode) encode = nullptr;
    decltype(&canter_spm_decode) decode = nullptr;
    decltype(&canter_spm_piece_size) piece_size = nullptr;
    decltype(&canter_spm_piece_to_id) piece_to_id = nullptr;
    decltype(&canter_spm_unk_id) unk_id = nullptr;
    decltype(&canter_spm_is_control) is_control = nullptr;
    decltype(&canter_spm_train) train = nullptr;
};

// Where to look: $CANTER_SPM_MODULE, next to the running executable, then the build tree.
std::vector<std::string> module_candidates() {
    std::vector<std::string> out;
    if (const char* env = std::getenv("CANTER_SPM_MODULE")) out.push_back(env);
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) out.push_back((exe.parent_path() / "libcanter_spm.so").string());
#ifdef CANTER_SPM_MODULE_PATH
    out.push_back(CANTER_SPM_MODULE_PATH);
#endif
    return out;
}

const SpmModule& spm_module() {
    static SpmModule m;
    static std::once_flag once;
    std::call_once(once, [] {
        void* lib = nullptr;
        std::string tried;
        for (const auto& path : module_candidates()) {
            if (!std::filesystem::exists(path)) {
                tried += "\n  " + path + ": not found";
                continue;
            }
            // A fresh namespace keeps SentencePiece's bundled protobuf away from LibTorch's.
            lib = ::dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (lib != nullptr) {
                m.path = path;
                break;
            }
            const char* e = ::dlerror();
            tried += "\n  " + path + ": " + (e ? e : "dlmopen failed");
        }
        if (lib == nullptr) {
            m.error = "cannot load the SentencePiece module libcanter_spm.so (set CANTER_SPM_MODULE):" + tried;
            return;
        }
        bool ok = true;
        auto sym = [&](auto& fn, const char* name) {
            fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
            if (fn == nullptr) ok = false;
        };
        decltype(&canter_spm_abi_version) version = nullptr;
        sym(version, "canter_spm_abi_version");
        sym(m.open, "canter_spm_open");
        sym(m.close, "canter_spm_close");
        sym(m.encode, "canter_spm_encode");
        sym(m.decode, "canter_spm_decode");
        sym(m.piece_size, "canter_spm_piece_size");
        sym(m.piece_to_id, "canter_spm_piece_to_id");
        sym(m.unk_id, "canter_spm_unk_id");
        sym(m.is_control, "canter_spm_is_control");
        sym(m.train, "canter_spm_train");
        if (!ok || version() != 1)
            m.error = m.path + " is not a compatible SentencePiece module (ABI version 1 expected)";
    });
    return m;
}

const SpmModule& require_spm(const char* what) {
    const SpmModule& m = spm_module();
    CANTER_CHECK(m.error.empty(), Unsupported, what << " needs SentencePiece, which is unavailable: " << m.error);
    return m;
}

constexpr size_t kErrCap = 1024;

}  // namespace

struct Tokenizer::Impl {
    const SpmModule* m = nullptr;
    void* handle = nullptr;
    ~Impl() {
        if (handle != nullptr) m->close(handle);
    }
};

bool Tokenizer::available() { return spm_module().error.empty(); }

Tokenizer Tokenizer::load(const std::string& dir) {
    const SpmModule& m = require_spm("the T5Gemma tokenizer");
    const auto root = std::filesystem::path(dir);
    const std::string model_path = (root / "tokenizer.model").string();
    const std::string config_path = (root / "tokenizer_config.json").string();
    CANTER_CHECK(std::filesystem::is_regular_file(model_path), NotFound,
                 "tokenizer: " << model_path << " does not exist");
    const nlohmann::json cfg = read_json_file(config_path);
    CANTER_CHECK(cfg.is_object(), Corruption, config_path << ": expected a JSON object");

    auto impl = std::make_shared<Impl>();
    impl->m = &m;
    char err[kErrCap] = {0};
    impl->handle = m.open(model_path.c_str(), err, sizeof err);
    CANTER_CHECK(impl->handle != nullptr, Corruption,
                 "tokenizer: " << model_path << " is not a SentencePiece model (" << err << ")");

    Tokenizer t;
    t.add_bos_ = flag(cfg, "add_bos_token", true, config_path);
    t.add_eos_ = flag(cfg, "add_eos_token", false, config_path);
    const int unk = m.unk_id(impl->handle);
    auto piece_id = [&](const std::string& key, const std::string& fallback, bool required) -> int64_t {
        const std::string piece = token_string(cfg, key, fallback, config_path);
        const int id = m.piece_to_id(impl->handle, piece.c_str());
        const bool found = id != unk || piece == token_string(cfg, "unk_token", "<unk>", config_path);
        CANTER_CHECK(found || !required, InvalidArgument,
                     "tokenizer: " << key << " '" << piece << "' (" << config_path << ") is not a piece of "
                                   << model_path);
        return found ? id : -1;
    };
    t.bos_id_ = piece_id("bos_token", "<bos>", t.add_bos_);
    t.eos_id_ = piece_id("eos_token", "<eos>", t.add_eos_);
    t.pad_id_ = piece_id("pad_token", "<pad>", false);
    t.impl_ = std::move(impl);
    return t;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text) const {
    CANTER_CHECK(impl_ != nullptr, InvalidArgument, "tokenizer: encode() on a tokenizer that was not loaded");
    std::vector<int> pieces(text.size() + 16);
    char err[kErrCap] = {0};
    for (;;) {
        const long n = impl_->m->encode(impl_->handle, text.data(), text.size(), pieces.data(), pieces.size(), err,
                                        sizeof err);
        CANTER_CHECK(n >= 0, InvalidArgument, "tokenizer: cannot encode text (" << err << ")");
        const bool fits = static_cast<size_t>(n) <= pieces.size();
        pieces.resize(static_cast<size_t>(n));
        if (fits) break;
    }
    std::vector<int64_t> ids;
    ids.reserve(pieces.size() + 2);
    if (add_bos_) ids.push_back(bos_id_);
    ids.insert(ids.end(), pieces.begin(), pieces.end());
    if (add_eos_) ids.push_back(eos_id_);
    return ids;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
    CANTER_CHECK(impl_ != nullptr, InvalidArgument, "tokenizer: decode() on a tokenizer that was not loaded");
    const int64_t vocab = vocab_size();
    std::vector<int> pieces;
    for (int64_t id : ids) {
        CANTER_CHECK(id >= 0 && id < vocab, InvalidArgument,
                     "tokenizer: token id " << id << " is outside the vocabulary [0, " << vocab << ")");
        if (!impl_->m->is_control(impl_->handle, static_cast<int>(id))) pieces.push_back(static_cast<int>(id));
    }
    std::string text(4 * pieces.size() + 16, '\0');
    char err[kErrCap] = {0};
    for (;;) {
        const long n = impl_->m->decode(impl_->handle, pieces.data(), pieces.size(), text.data(), text.size(), err,
                                        sizeof err);
        CANTER_CHECK(n >= 0, InvalidArgument, "tokenizer: cannot decode ids (" << err << ")");
        const bool fits = static_cast<size_t>(n) <= text.size();
        text.resize(static_cast<size_t>(n));
        if (fits) break;
    }
    return text;
}

int64_t Tokenizer::vocab_size() const { return impl_ ? impl_->m->piece_size(impl_->handle) : 0; }

#else  // !CANTER_HAVE_SENTENCEPIECE

struct Tokenizer::Impl {};

bool Tokenizer::available() { return false; }
Tokenizer Tokenizer::load(const std::string&) { throw_no_sentencepiece("the T5Gemma tokenizer"); }
std::vector<int64_t> Tokenizer::encode(const std::string&) const { throw_no_sentencepiece("the T5Gemma tokenizer"); }
std::string Tokenizer::decode(const std::vector<int64_t>&) const { throw_no_sentencepiece("the T5Gemma tokenizer"); }
int64_t Tokenizer::vocab_size() const { return 0; }

#endif  // CANTER_HAVE_SENTENCEPIECE

// ---- demo tokenizer --------------------------------------------------------------------------

namespace {

// Training text for the demo tokenizer: plain English in the register of video prompts.
// Changing it changes the demo tokenizer (and any demo output that depends on it).
[[maybe_unused]] const char* const kDemoCorpus[] = {
    "A woman speaks to the camera in a quiet room, her voice calm and clear.",
    "A young man walks along the beach at sunset while the waves roll in.",
    "The camera stays still as a child laughs and runs across the green park.",
    "An old fisherman mends his net on a wooden boat in the early morning light.",
    "Two friends sit at a small table in a busy cafe and talk about their day.",
    "A street musician plays the guitar and sings softly under a bright lamp.",
    "The chef slices fresh vegetables on a board, then drops them into a hot pan.",
    "Rain falls on the window while a cat watches the drops slide down the glass.",
    "A woman with long dark hair smiles, turns her head, and looks out the window.",
    "The teacher writes on the board and explains the lesson to the whole class.",
    "A red car drives slowly down a narrow street lined with old stone houses.",
    "Birds sing in the trees as the sun rises over the quiet mountain village.",
    "A man in a grey suit reads the news in a steady voice, facing the camera.",
    "The little girl holds a yellow balloon and waves at her mother across the road.",
    "Snow covers the city at night, and the lights of the shops glow warm and soft.",
    "A dancer moves across the stage with slow, graceful steps as the music swells.",
    "The old woman tells a story by the fire while her grandchildren listen closely.",
    "A dog chases a ball through the tall grass and brings it back to its owner.",
    "Waves crash against the rocks and white foam sprays into the cold morning air.",
    "A doctor in a white coat speaks gently to a patient in a bright clean room.",
    "The crowd cheers as the runner crosses the finish line with both arms raised.",
    "A man plays the piano in an empty hall; each note echoes off the high walls.",
    "She opens the letter, reads the first line, and her eyes fill with tears.",
    "The market is full of people buying fruit, bread, fish, flowers and spices.",
    "A boy rides his bicycle down the hill, laughing as the wind blows his hair.",
    "The farmer walks through the wheat field at dusk, touching the golden stalks.",
    "Dialogue: <A woman in her thirties, English>: \"I have been waiting for this day.\"",
    "Dialogue: <An older man with a deep voice, English>: \"Then let us begin.\"",
    "Background Sound: <Soft wind and distant birds>",
    "Background Sound: <No prominent background sound>",
    "The scene lasts 5 seconds, at 25 frames per second, in 1080 by 1920 pixels.",
    "In 2024 the team filmed 12 short clips, 3 of them at night and 9 by day.",
    "Close-up of a face: the lips move, the eyebrows lift, and the eyes blink twice.",
    "The speaker pauses, takes a breath, and continues with a warm, friendly tone.",
    "Bright tones, static shot, blurred details, low quality, noise, hiss and hum.",
    "A kitchen with a wooden table, a bowl of apples, and sunlight on the floor.",
    "The train leaves the station and the city slowly disappears behind the hills.",
    "A mother sings a quiet song to her baby, rocking the cradle back and forth.",
    "Two actors rehearse a scene; one speaks loudly while the other whispers.",
    "The river flows past the old mill, and a small boat drifts with the current.",
    "He picks up the phone, listens for a moment, then says: \"Yes, I understand.\"",
    "The lights go down, the curtain rises, and the audience falls silent.",
    "A girl in a blue dress reads a book under a tree while leaves fall around her.",
    "The storm passes; the clouds open and a rainbow appears over the green valley.",
    "A young woman looks into the lens and says hello with a shy, gentle smile.",
    "Children play football in the school yard while their teacher keeps the score.",
};

}  // namespace

void write_demo_tokenizer(const std::string& dir) {
#if CANTER_HAVE_SENTENCEPIECE
    const SpmModule& m = require_spm("the demo tokenizer");
    std::string corpus;
    for (const char* line : kDemoCorpus) corpus += (corpus.empty() ? "" : "\n") + std::string(line);
    // Gemma's layout (spec encoders.md §4.5): BPE, byte fallback, identity normalisation, no
    // dummy prefix, whitespace kept, digits split; one thread so the merges are reproducible.
    const std::string args =
        "--model_type=bpe --vocab_size=512 --character_coverage=1.0 --byte_fallback=true "
        "--normalization_rule_name=identity --add_dummy_prefix=false --remove_extra_whitespaces=false "
        "--split_digits=true --allow_whitespace_only_pieces=true --split_by_whitespace=true "
        "--pad_id=0 --eos_id=1 --bos_id=2 --unk_id=3 --user_defined_symbols=<mask> "
        "--pad_piece=<pad> --eos_piece=<eos> --bos_piece=<bos> --unk_piece=<unk> "
        "--num_threads=1 --shuffle_input_sentence=false --hard_vocab_limit=false --minloglevel=2";
    std::string model(1 << 20, '\0');
    char err[kErrCap] = {0};
    for (;;) {
        const long n = m.train(args.c_str(), corpus.data(), corpus.size(), model.data(), model.size(), err, sizeof err);
        CANTER_CHECK(n >= 0, Internal, "demo tokenizer: SentencePiece training failed (" << err << ")");
        const bool fits = static_cast<size_t>(n) <= model.size();
        model.resize(static_cast<size_t>(n));
        if (fits) break;  // else train again (deterministic) into the larger buffer
    }

    const auto root = std::filesystem::path(dir);
    std::filesystem::create_directories(root);
    auto write = [](const std::filesystem::path& path, const std::string& bytes) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        CANTER_CHECK(out.good(), IO, "demo tokenizer: cannot write " << path.string());
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        CANTER_CHECK(out.good(), IO, "demo tokenizer: cannot write " << path.string());
    };
    write(root / "tokenizer.model", model);
    const nlohmann::json cfg = {
        {"add_bos_token", true},     {"add_eos_token", false},  {"bos_token", "<bos>"},
        {"eos_token", "<eos>"},      {"pad_token", "<pad>"},    {"unk_token", "<unk>"},
        {"tokenizer_class", "GemmaTokenizer"},
    };
    write(root / "tokenizer_config.json", cfg.dump(2) + "\n");
#else
    (void)dir;
    throw_no_sentencepiece("the demo tokenizer");
#endif
}

}  // namespace canter::t5gemma
