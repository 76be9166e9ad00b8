// conform turbo-vaed: not implemented yet (tracked by the samplers/autoencoders issue).
#include "conform/conform_internal.h"
#include "util/check.h"

namespace canter::conform {

TensorMap run_turbo_vaed(const ConformRequest&, const CaseFile& c) {
    CANTER_THROW(Unsupported, "conform turbo-vaed: not implemented in this build yet (case " << c.path() << ")");
}

}  // namespace canter::conform
