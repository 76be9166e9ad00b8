// The SentencePiece module: a thin C wrapper over SentencePieceProcessor / SentencePieceTrainer,
// loaded with dlmopen() by models/t5gemma/tokenizer.cpp (see spm_module_api.h for why).
#include "sentencepiece/spm_module_api.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

long fail(const std::string& message, char* err, size_t err_cap) {
    if (err != nullptr && err_cap > 0) {
        const size_t n = std::min(message.size(), err_cap - 1);
        std::memcpy(err, message.data(), n);
        err[n] = '\0';
    }
    return -1;
}

sentencepiece::SentencePieceProcessor* sp(void* handle) {
    return static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

// Feeds the lines of an in-memory corpus to the trainer.
class LineIterator : public sentencepiece::SentenceIterator {
public:
    LineIterator(const char* data, size_t len) : data_(data, len) { Next(); }
    bool done() const override { return done_; }
    void Next() override {
        if (pos_ > data_.size()) {
            done_ = true;
            return;
        }
        size_t end = data_.find('\n', pos_);
        if (end == std::string::npos) end = data_.size();
        value_ = data_.substr(pos_, end - pos_);
        pos_ = end + 1;
    }
    const std::string& value() const override { return value_; }
    sentencepiece::util::Status status() const override { return {}; }

private:
    std::string data_;
    std::string value_;
    size_t pos_ = 0;
    bool done_ = false;
};

}  // namespace

extern "C" {

int canter_spm_abi_version() { return 1; }

void* canter_spm_open(const char* model_path, char* err, size_t err_cap) {
    auto* p = new sentencepiece::SentencePieceProcessor();
    const auto status = p->Load(model_path);
    if (!status.ok()) {
        fail(status.ToString(), err, err_cap);
        delete p;
        return nullptr;
    }
    return p;
}

void canter_spm_close(void* handle) { delete sp(handle); }

long canter_spm_encode(void* handle, const char* text, size_t len, int* ids, size_t cap, char* err, size_t err_cap) {
    std::vector<int> out;
    const auto status = sp(handle)->Encode(std::string(text, len), &out);
    if (!status.ok()) return fail(status.ToString(), err, err_cap);
    std::copy_n(out.begin(), std::min(out.size(), cap), ids);
    return static_cast<long>(out.size());
}

long canter_spm_decode(void* handle, const int* ids, size_t n, char* text, size_t cap, char* err, size_t err_cap) {
    std::string out;
    const auto status = sp(handle)->Decode(std::vector<int>(ids, ids + n), &out);
    if (!status.ok()) return fail(status.ToString(), err, err_cap);
    std::memcpy(text, out.data(), std::min(out.size(), cap));
    return static_cast<long>(out.size());
}

int canter_spm_piece_size(void* handle) { return sp(handle)->GetPieceSize(); }
int canter_spm_piece_to_id(void* handle, const char* piece) { return sp(handle)->PieceToId(piece); }
int canter_spm_unk_id(void* handle) { return sp(handle)->unk_id(); }
int canter_spm_is_control(void* handle, int id) { return sp(handle)->IsControl(id) ? 1 : 0; }

long canter_spm_train(const char* args, const char* corpus, size_t corpus_len, char* model, size_t cap, char* err,
                      size_t err_cap) {
    // "--key=value --key=value" -> map; the map overload, unlike the string one, does not log
    // the command line before --minloglevel takes effect.
    std::unordered_map<std::string, std::string> kwargs;
    std::istringstream words(args);
    for (std::string word; words >> word;) {
        const size_t start = word.find_first_not_of('-');
        const size_t eq = word.find('=');
        if (start == std::string::npos || eq == std::string::npos || eq < start)
            return fail("bad trainer argument '" + word + "' (expected --key=value)", err, err_cap);
        kwargs[word.substr(start, eq - start)] = word.substr(eq + 1);
    }
    LineIterator it(corpus, corpus_len);
    std::string out;
    const auto status = sentencepiece::SentencePieceTrainer::Train(kwargs, &it, &out);
    if (!status.ok()) return fail(status.ToString(), err, err_cap);
    std::memcpy(model, out.data(), std::min(out.size(), cap));
    return static_cast<long>(out.size());
}

}  // extern "C"
