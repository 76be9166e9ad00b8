// conform audio-vae: not implemented yet (tracked by the samplers/autoencoders issue).
#include "conform/conform_internal.h"
#include "util/check.h"

namespace canter::conform {

TensorMap run_audio_vae(const ConformRequest&, const CaseFile& c) {
    CANTER_THROW(Unsupported, "conform audio-vae: not implemented in this build yet (case " << c.path() << ")");
}

}  // namespace canter::conform
