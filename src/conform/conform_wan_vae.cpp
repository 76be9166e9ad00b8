// conform wan-vae: not implemented yet (tracked by the samplers/autoencoders issue).
#include "conform/conform_internal.h"
#include "util/check.h"

namespace canter::conform {

TensorMap run_wan_vae(const ConformRequest&, const CaseFile& c) {
    CANTER_THROW(Unsupported, "conform wan-vae: not implemented in this build yet (case " << c.path() << ")");
}

}  // namespace canter::conform
