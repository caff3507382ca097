// SHA-256 (OpenSSL's libcrypto) for cell identities, annotation files and plugin files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace merx {

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

/// Lower-case hex SHA-256 of a file's bytes. Throws UserError naming the path if it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

/// First 8 bytes of SHA-256(data) as a big-endian integer: a 64-bit seed/identity that is the same on
/// every platform and standard library (std::hash is not).
uint64_t hash64(std::string_view data);

}  // namespace merx
