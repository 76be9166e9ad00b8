// The T5Gemma / Gemma tokenizer: a SentencePiece BPE model (`tokenizer.model`, byte fallback,
// no dummy prefix) plus the BOS/EOS flags of `tokenizer_config.json`, i.e. what transformers'
// GemmaTokenizer does for `tokenizer([prompt])` (no padding, no truncation; spec encoders.md
// §4.5). Needs the SentencePiece library: in a build without it (CANTER_HAVE_SENTENCEPIECE=0)
// load() and write_demo_tokenizer() throw canter::Error(kUnsupported).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace canter::t5gemma {

class Tokenizer {
public:
    // `dir` holds tokenizer.model and tokenizer_config.json. add_bos_token / add_eos_token
    // are read from the latter (GemmaTokenizer's defaults, true / false, apply only when a
    // flag is absent); bos/eos ids are those of the config's bos_token / eos_token pieces
    // (default "<bos>" / "<eos>"), which must exist in the model.
    static Tokenizer load(const std::string& dir);
    // Whether this build has SentencePiece (otherwise load() throws kUnsupported).
    static bool available();

    // SentencePiece ids of `text`, with BOS prepended / EOS appended per the config. Text is
    // taken as UTF-8 bytes; special-token strings such as "<eos>" in it are not treated
    // specially (plain SentencePiece encoding).
    std::vector<int64_t> encode(const std::string& text) const;
    std::string decode(const std::vector<int64_t>& ids) const;

    int64_t vocab_size() const;
    int64_t bos_id() const { return bos_id_; }
    int64_t eos_id() const { return eos_id_; }
    int64_t pad_id() const { return pad_id_; }
    bool add_bos() const { return add_bos_; }
    bool add_eos() const { return add_eos_; }

private:
    struct Impl;
    std::shared_ptr<const Impl> impl_;
    int64_t bos_id_ = -1, eos_id_ = -1, pad_id_ = -1;
    bool add_bos_ = true, add_eos_ = false;
};

// Creates a tiny deterministic Gemma-layout tokenizer in `dir` (created if needed):
// tokenizer.model (BPE, byte fallback, identity normalisation, no dummy prefix, digits split;
// ids <pad> 0, <eos> 1, <bos> 2, <unk> 3, <mask> 4, then the 256 byte pieces, then merges;
// 512 pieces) trained single-threaded on a small built-in English corpus, and a
// tokenizer_config.json (add_bos_token true, add_eos_token false). Byte-identical on every run.
void write_demo_tokenizer(const std::string& dir);

}  // namespace canter::t5gemma
