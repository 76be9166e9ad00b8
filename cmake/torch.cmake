# LibTorch (the tensor library) and the CUDA path. See docs/platform.md.
#
# LibTorch comes from the PyPI `torch` wheel in the project venv (scripts/install-torch.sh;
# scripts/build.sh passes CMAKE_PREFIX_PATH=torch.utils.cmake_prefix_path), or from any python3
# torch on a GPU machine. One wheel carries CPU and CUDA; when it has CUDA and nvcc is present,
# the CUDA path (ATen CUDA ops, canter's .cu files, CUDA graphs) is compiled and linked. libcuda
# (the driver) is never linked: the CUDA runtime finds it at run time, so the same binary runs
# on machines without a GPU driver (the build and CI machines).
set(CANTER_MIN_TORCH_VERSION 2.4)  # SDPA with log-sum-exp, _weight_int8pack_mm, _scaled_mm
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  # No GPU on the build machines to detect one from: Ampere (A100), Ada (L4/4090), Hopper (H100/H200).
  set(TORCH_CUDA_ARCH_LIST "8.0;8.9;9.0" CACHE STRING "CUDA architectures for canter's kernels")
endif()
option(CANTER_WITH_CUDA "Compile and link the CUDA path when LibTorch has CUDA and nvcc is found" ON)

find_package(Torch REQUIRED)
if(Torch_VERSION VERSION_LESS CANTER_MIN_TORCH_VERSION)
  message(FATAL_ERROR "canter: LibTorch ${Torch_VERSION} is too old (found at ${TORCH_INSTALL_PREFIX}); "
                      "canter needs ${CANTER_MIN_TORCH_VERSION} or newer (scripts/install-torch.sh installs the pinned one)")
endif()

# The C++ ABI of the wheel (torch._C._GLIBCXX_USE_CXX11_ABI): every C++ library whose API passes
# std::string or containers across (GoogleTest, Google Benchmark, Debian's cpp-httplib) must match.
set(CANTER_TORCH_CXX11_ABI 1)
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
  set(CANTER_TORCH_CXX11_ABI 0)
endif()

set(CANTER_HAVE_CUDA OFF)
if(CANTER_WITH_CUDA AND TORCH_CUDA_LIBRARIES AND CMAKE_CUDA_COMPILER)
  set(CANTER_HAVE_CUDA ON)
  message(STATUS "canter: CUDA path ON (LibTorch ${Torch_VERSION}, nvcc ${CMAKE_CUDA_COMPILER_VERSION}, "
                 "architectures ${TORCH_CUDA_ARCH_LIST})")
else()
  message(STATUS "canter: CUDA path OFF (LibTorch ${Torch_VERSION} CUDA libraries: '${TORCH_CUDA_LIBRARIES}', "
                 "nvcc: '${CMAKE_CUDA_COMPILER}', CANTER_WITH_CUDA=${CANTER_WITH_CUDA})")
endif()
if(CANTER_STRICT AND CANTER_WITH_CUDA AND NOT CANTER_HAVE_CUDA)
  message(FATAL_ERROR "canter: CI=true and the CUDA path cannot be compiled (see above); CI must "
                      "compile and link it (or configure with -DCANTER_WITH_CUDA=OFF on purpose)")
endif()
if(CANTER_HAVE_CUDA)
  # The wheel ships its own CUDA runtime (nvidia/cu*/lib), newer than or equal to the toolkit's.
  # LibTorch is linked against it, so canter must load the same libcudart, not the toolkit's:
  # put the wheel's runtime first on the run-time search path.
  file(GLOB _canter_wheel_cudart "${TORCH_INSTALL_PREFIX}/../nvidia/*/lib/libcudart.so.*")
  if(_canter_wheel_cudart)
    list(GET _canter_wheel_cudart 0 _canter_cudart)
    get_filename_component(CANTER_WHEEL_CUDA_LIB_DIR "${_canter_cudart}" DIRECTORY)
    add_link_options("LINKER:-rpath,${CANTER_WHEEL_CUDA_LIB_DIR}")
  endif()
  # The linker must resolve libtorch_cuda's own dependencies (NCCL, cuDNN, cuBLAS, ...) from
  # the wheel too: the toolkit's older copies (e.g. /usr/local/cuda/lib64/libnccl.so.2) lack
  # symbols it uses, and -rpath directories are searched before the library's own RPATH.
  file(GLOB _canter_wheel_lib_dirs LIST_DIRECTORIES true "${TORCH_INSTALL_PREFIX}/../nvidia/*/lib")
  foreach(_dir ${_canter_wheel_lib_dirs})
    add_link_options("LINKER:-rpath-link,${_dir}")
  endforeach()
endif()
message(STATUS "canter: LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}, C++11 ABI ${CANTER_TORCH_CXX11_ABI}")
