/* merx plugin ABI: the only thing that crosses a plugin .so boundary before the host has checked it.
 *
 * Plain C on purpose (OpenCV plugin_api.hpp style): the host reads this descriptor through a C entry point
 * and checks ABI major/minor, kind, LibTorch version and the C++ ABI flag BEFORE constructing any C++ object
 * from the plugin. Rules:
 *   - `abi_major` must equal MERX_PLUGIN_ABI_MAJOR of the host, else the plugin is refused.
 *   - `abi_minor` may grow: new fields are only ever appended at the end of the struct, and a host reads a
 *     field only when the plugin's `struct_size` covers it. A plugin built for a newer minor than the host is
 *     refused (it may rely on host behaviour that does not exist yet).
 *   - Fields are never reordered, retyped or removed within one major version.
 *
 * Strings are UTF-8, NUL-terminated, owned by the plugin and valid for as long as the library is loaded.
 */
#ifndef MERX_PLUGIN_ABI_H
#define MERX_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define MERX_PLUGIN_ABI_MAJOR 1
#define MERX_PLUGIN_ABI_MINOR 0

/* Name of the exported C entry point; the host resolves exactly this symbol. */
#define MERX_PLUGIN_ENTRY_POINT "merx_plugin_entry"

#ifdef __cplusplus
extern "C" {
#endif

/* Factory: builds one plugin object from its fully resolved parameters (a JSON object text, defaults
 * filled in by the host). Returns an owning pointer to the kind's interface (merx::Backbone*,
 * merx::Regularizer*, merx::Augmenter*) cast to void*, or NULL after writing a message into `error`
 * (at most `error_len` bytes including the NUL). Must not let a C++ exception escape. */
typedef void* (*merx_plugin_create_fn)(const char* params_json, char* error, size_t error_len);

/* Destroys an object returned by `create` (the vtable and the allocator live in the plugin). */
typedef void (*merx_plugin_destroy_fn)(void* object);

typedef struct merx_plugin_descriptor {
  /* --- header: identical in every ABI major; read first --- */
  uint32_t abi_major;   /* MERX_PLUGIN_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor;   /* MERX_PLUGIN_ABI_MINOR the plugin was built with */
  uint32_t struct_size; /* sizeof(merx_plugin_descriptor) in the plugin's build */
  uint32_t reserved;

  /* --- ABI 1.0 --- */
  const char* kind;          /* "backbone" | "regularizer" | "augmenter" */
  const char* name;          /* unique per kind, [a-z0-9_]+ */
  const char* version;       /* plugin behaviour version; bump whenever results may change */
  const char* description;   /* one line */
  const char* params_json;   /* JSON array of parameter declarations (see merx/params.h) */
  const char* torch_version; /* TORCH_VERSION the plugin was compiled against, e.g. "1.13.1" */
  int32_t cxx11_abi;         /* value of _GLIBCXX_USE_CXX11_ABI in the plugin's build (-1 if unknown) */
  uint32_t api_version;      /* version of the kind's C++ interface header the plugin was built with */
  merx_plugin_create_fn create;
  merx_plugin_destroy_fn destroy;
} merx_plugin_descriptor;

typedef const merx_plugin_descriptor* (*merx_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* MERX_PLUGIN_ABI_H */
