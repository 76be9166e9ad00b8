// conform sample: not implemented yet (tracked by the samplers/autoencoders issue).
#include "conform/conform_internal.h"
#include "util/check.h"

namespace canter::conform {

TensorMap run_sample(const ConformRequest&, const CaseFile& c) {
    CANTER_THROW(Unsupported, "conform sample: not implemented in this build yet (case " << c.path() << ")");
}

}  // namespace canter::conform
