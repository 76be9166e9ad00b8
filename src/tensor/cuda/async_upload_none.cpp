// Builds without the CUDA path: no asynchronous uploads (callers copy synchronously).
#include "tensor/async_upload.h"

namespace canter::tensor {

std::unique_ptr<AsyncUpload> AsyncUpload::create(const c10::Device&, int) { return nullptr; }

}  // namespace canter::tensor
