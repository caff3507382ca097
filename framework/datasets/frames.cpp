// Listing a clip's frame images in frame order (see merx/datasets/frames.h). One directory_iterator pass,
// no stat per file beyond the type the directory entry already carries. frame_file_problem: the cheap
// per-file integrity check of `merx datasets check` (a few bytes read, nothing decoded).
#include "merx/datasets/frames.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "merx/errors.h"

namespace merx {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

/// The name with spaces before the extension removed: "img12 .jpg" -> "img12.jpg".
std::string normalised_name(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0 || name[dot - 1] != ' ') return name;
  size_t end = dot;
  while (end > 0 && name[end - 1] == ' ') --end;
  return name.substr(0, end) + name.substr(dot);
}

std::optional<int64_t> parse_digits(std::string_view d) {
  if (d.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : d) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

bool is_image_file(const std::string& file_name) {
  const size_t dot = file_name.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string_view ext = std::string_view(file_name).substr(dot + 1);
  for (const char* e : {"jpg", "jpeg", "png", "bmp", "tif", "tiff"})
    if (iequals(ext, e)) return true;
  return false;
}

int64_t frame_number(const std::string& file_name) {
  const std::string name = normalised_name(file_name);
  const size_t dot = name.rfind('.');
  const std::string_view stem =
      std::string_view(name).substr(0, dot == std::string::npos ? name.size() : dot);
  size_t end = stem.size();
  while (end > 0 && !std::isdigit(static_cast<unsigned char>(stem[end - 1]))) --end;
  size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(stem[begin - 1]))) --begin;
  const auto v = parse_digits(stem.substr(begin, end - begin));
  return v ? *v : -1;
}

std::string frame_file_problem(const std::filesystem::path& file) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) return "cannot be read: " + ec.message();
  if (size == 0) return "is empty (0 bytes)";
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot be opened";
  unsigned char head[16] = {};
  const size_t head_n = static_cast<size_t>(std::min<uintmax_t>(size, sizeof head));
  in.read(reinterpret_cast<char*>(head), static_cast<std::streamsize>(head_n));
  const size_t tail_n = static_cast<size_t>(std::min<uintmax_t>(size, 64));
  std::string tail(tail_n, '\0');
  in.seekg(static_cast<std::streamoff>(size - tail_n));
  in.read(tail.data(), static_cast<std::streamsize>(tail_n));
  if (!in) return "cannot be read (short read of " + std::to_string(size) + " bytes)";
  auto starts = [&](std::initializer_list<unsigned char> sig) {
    if (head_n < sig.size()) return false;
    return std::equal(sig.begin(), sig.end(), head);
  };
  if (starts({0xFF, 0xD8})) {
    if (tail.find("\xFF\xD9") == std::string::npos)
      return "is truncated: a JPEG without its end marker FF D9";
    return "";
  }
  if (starts({0x89, 'P', 'N', 'G'})) {
    if (tail.find("IEND") == std::string::npos) return "is truncated: a PNG without its IEND chunk";
    return "";
  }
  if (starts({'B', 'M'})) {
    if (head_n < 6) return "is truncated: " + std::to_string(size) + " bytes, shorter than a BMP header";
    const uint32_t declared = static_cast<uint32_t>(head[2]) | static_cast<uint32_t>(head[3]) << 8 |
                              static_cast<uint32_t>(head[4]) << 16 | static_cast<uint32_t>(head[5]) << 24;
    if (size < declared)
      return "is truncated: " + std::to_string(size) + " bytes, its BMP header declares " +
             std::to_string(declared);
    return "";
  }
  if (starts({'I', 'I', 0x2A, 0x00}) || starts({'M', 'M', 0x00, 0x2A})) return "";
  static const char* hex = "0123456789abcdef";
  std::string first;
  for (size_t i = 0; i < std::min<size_t>(head_n, 4); ++i)
    first += std::string(i ? " " : "") + hex[head[i] >> 4] + hex[head[i] & 15];
  return "is not a JPEG, PNG, BMP or TIFF image (its first bytes are " + first + ")";
}

std::vector<FrameFile> list_frames(const std::filesystem::path& folder, const std::string& pattern) {
  std::string prefix, suffix;
  const bool patterned = !pattern.empty();
  if (patterned) {
    const size_t at = pattern.find("{N}");
    if (at == std::string::npos || pattern.find("{N}", at + 1) != std::string::npos)
      throw std::invalid_argument("list_frames: pattern '" + pattern + "' must contain {N} exactly once");
    prefix = pattern.substr(0, at);
    suffix = pattern.substr(at + 3);
  }

  std::error_code ec;
  const auto st = std::filesystem::status(folder, ec);
  if (!std::filesystem::exists(st)) throw UserError("frame folder " + folder.string() + " does not exist");
  if (!std::filesystem::is_directory(st))
    throw UserError("frame folder " + folder.string() + " is not a directory");
  std::filesystem::directory_iterator it(folder, ec);
  if (ec) throw UserError("cannot list frame folder " + folder.string() + ": " + ec.message());

  std::vector<FrameFile> frames;
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !is_image_file(name)) continue;
    std::error_code type_ec;
    if (entry.is_directory(type_ec)) continue;
    int64_t number = -1;
    if (patterned) {
      const std::string n = normalised_name(name);
      if (n.size() < prefix.size() + suffix.size() + 1 || n.compare(0, prefix.size(), prefix) != 0 ||
          !iequals(std::string_view(n).substr(n.size() - suffix.size()), suffix))
        continue;
      const auto v =
          parse_digits(std::string_view(n).substr(prefix.size(), n.size() - prefix.size() - suffix.size()));
      if (!v) continue;
      number = *v;
    } else {
      number = frame_number(name);
      if (number < 0)
        throw UserError("frame file " + entry.path().string() +
                        " has no frame number in its name (expected digits, e.g. img46.jpg)");
    }
    frames.push_back({entry.path(), number});
  }
  std::sort(frames.begin(), frames.end(), [](const FrameFile& a, const FrameFile& b) {
    return a.number != b.number ? a.number < b.number : a.path.filename() < b.path.filename();
  });
  for (size_t i = 1; i < frames.size(); ++i)
    if (frames[i].number == frames[i - 1].number)
      throw UserError("frame folder " + folder.string() + ": '" + frames[i - 1].path.filename().string() +
                      "' and '" + frames[i].path.filename().string() + "' both have frame number " +
                      std::to_string(frames[i].number));
  return frames;
}

}  // namespace merx
