// C ABI of the SentencePiece module (libcanter_spm.so, built from spm_module.cpp when
// SentencePiece is found).
//
// Why a separately loaded module: Debian's libsentencepiece bundles its own protobuf-lite and
// exports all of its symbols, while LibTorch loads the system libprotobuf. Linked into one
// process the two copies interpose on each other and the process crashes during static
// initialisation. So the tokenizer loads this module with dlmopen() into its own link-map
// namespace, where SentencePiece and its protobuf copy are private. Only plain C types cross
// the boundary; buffers are owned by the caller.
#pragma once

#include <cstddef>

extern "C" {

// Bumped whenever a signature below changes.
int canter_spm_abi_version();

// Functions returning long: -1 on error (message copied to err, NUL-terminated, truncated to
// err_cap), otherwise the full size of the result; at most `cap` elements are copied, so a
// caller whose buffer was too small calls again with a larger one.
void* canter_spm_open(const char* model_path, char* err, size_t err_cap);  // nullptr on error
void canter_spm_close(void* handle);
long canter_spm_encode(void* handle, const char* text, size_t len, int* ids, size_t cap, char* err, size_t err_cap);
long canter_spm_decode(void* handle, const int* ids, size_t n, char* text, size_t cap, char* err, size_t err_cap);
int canter_spm_piece_size(void* handle);
int canter_spm_piece_to_id(void* handle, const char* piece);
int canter_spm_unk_id(void* handle);
int canter_spm_is_control(void* handle, int id);
// Trains a model with SentencePieceTrainer `args` on the '\n'-separated lines of `corpus`;
// the serialized model proto goes to `model`.
long canter_spm_train(const char* args, const char* corpus, size_t corpus_len, char* model, size_t cap, char* err,
                      size_t err_cap);
}
