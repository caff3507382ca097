// Version and provenance of this merx build (recorded with every cell).
#pragma once

namespace merx {
const char* version_string();  // project version, e.g. "0.1.0"
const char* git_commit();      // short commit of the source tree at build time, "-dirty" if modified
}  // namespace merx
