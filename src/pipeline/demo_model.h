// Internals of the built-in demo model shared by the engine (public entry points are in
// include/canter/engine.h).
#pragma once

namespace canter {

// Version written into the demo manifest (`demo_version`); a cached demo model with another
// version is rebuilt by Engine::open.
int demo_model_version();

}  // namespace canter
