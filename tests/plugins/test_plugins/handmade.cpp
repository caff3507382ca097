// Test plugin with a descriptor written by hand (no MERX_PLUGIN), so that one field at a time can be made
// wrong. Exactly one HANDMADE_* macro selects the fault; without one the descriptor is valid.
#include <cstdio>

#include <torch/version.h>

#include "merx/plugin_abi.h"

#define H_ABI_MAJOR MERX_PLUGIN_ABI_MAJOR
#define H_ABI_MINOR MERX_PLUGIN_ABI_MINOR
#define H_KIND "backbone"
#define H_NAME HANDMADE_NAME
#define H_TORCH TORCH_VERSION
#define H_CXX11 _GLIBCXX_USE_CXX11_ABI
#define H_API 1u
#define H_PARAMS "[]"

#if defined(HANDMADE_ABI_MAJOR_2)
#undef H_ABI_MAJOR
#define H_ABI_MAJOR 2
#elif defined(HANDMADE_NEWER_MINOR)
#undef H_ABI_MINOR
#define H_ABI_MINOR (MERX_PLUGIN_ABI_MINOR + 1)
#elif defined(HANDMADE_OTHER_TORCH)
#undef H_TORCH
#define H_TORCH "0.0.1"
#elif defined(HANDMADE_OTHER_CXX11_ABI)
#undef H_CXX11
#define H_CXX11 (1 - _GLIBCXX_USE_CXX11_ABI)
#elif defined(HANDMADE_NEWER_API)
#undef H_API
#define H_API 99u
#elif defined(HANDMADE_BAD_KIND)
#undef H_KIND
#define H_KIND "frontend"
#elif defined(HANDMADE_BAD_PARAMS_JSON)
#undef H_PARAMS
#define H_PARAMS "[{\"name\": \"width\", "
#endif

namespace {
void* create(const char*, char* error, size_t error_len) {
  std::snprintf(error, error_len, "hand-written test descriptor builds nothing");
  return nullptr;
}
void destroy(void*) {}
}  // namespace

extern "C" __attribute__((visibility("default"))) const merx_plugin_descriptor* merx_plugin_entry(void) {
  static const merx_plugin_descriptor d = {H_ABI_MAJOR,
                                           H_ABI_MINOR,
                                           static_cast<uint32_t>(sizeof(merx_plugin_descriptor)),
                                           0u,
                                           H_KIND,
                                           H_NAME,
                                           "1.0.0",
                                           "hand-written test descriptor",
                                           H_PARAMS,
                                           H_TORCH,
                                           H_CXX11,
                                           H_API,
                                           &create,
                                           &destroy};
  return &d;
}
