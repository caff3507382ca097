#include "spec/json_path.h"

#include <cctype>

#include <nlohmann/json.hpp>

namespace merx::spec_internal {
namespace {

bool is_identifier(const std::string& k) {
  if (k.empty() || std::isdigit(static_cast<unsigned char>(k[0]))) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

bool bare_key_char(char c) {
  return c != '.' && c != '[' && c != ']' && !std::isspace(static_cast<unsigned char>(c));
}

}  // namespace

std::string path_key(const std::string& parent, const std::string& key) {
  if (is_identifier(key)) return parent.empty() ? key : parent + "." + key;
  return parent + "[" + nlohmann::json(key).dump() + "]";
}

std::string path_index(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string format_path(const JsonPath& path) {
  std::string s;
  for (const auto& seg : path) s = seg.is_index ? path_index(s, seg.index) : path_key(s, seg.key);
  return s;
}

std::optional<JsonPath> parse_path(const std::string& text, std::string& error) {
  JsonPath out;
  size_t i = 0;
  const size_t n = text.size();
  if (n == 0) {
    error = "empty path";
    return std::nullopt;
  }
  bool expect_key = true;  // at the start or after '.'
  while (i < n) {
    const char c = text[i];
    if (c == '[') {
      if (expect_key && !out.empty()) {
        error = "`.` must be followed by a key";
        return std::nullopt;
      }
      ++i;
      if (i < n && text[i] == '"') {
        // A JSON string key: find the closing quote, honouring backslash escapes.
        size_t j = i + 1;
        while (j < n && text[j] != '"') j += text[j] == '\\' ? 2 : 1;
        if (j >= n || j + 1 >= n || text[j + 1] != ']') {
          error = "unterminated [\"...\"] key";
          return std::nullopt;
        }
        try {
          out.push_back({false, nlohmann::json::parse(text.substr(i, j - i + 1)).get<std::string>(), 0});
        } catch (const nlohmann::json::exception&) {
          error = "bad string in [\"...\"] key";
          return std::nullopt;
        }
        i = j + 2;
      } else {
        size_t j = i;
        while (j < n && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
        if (j == i || j >= n || text[j] != ']' || j - i > 9) {
          error = "expected [<index>] or [\"<key>\"]";
          return std::nullopt;
        }
        out.push_back({true, "", static_cast<size_t>(std::stoul(text.substr(i, j - i)))});
        i = j + 1;
      }
      expect_key = false;
    } else if (c == '.') {
      if (expect_key) {
        error = "empty key";
        return std::nullopt;
      }
      expect_key = true;
      ++i;
    } else {
      if (!expect_key) {
        error = "expected `.` or `[` before `" + text.substr(i, 1) + "`";
        return std::nullopt;
      }
      size_t j = i;
      while (j < n && bare_key_char(text[j])) ++j;
      if (j == i) {
        error = "unexpected character `" + text.substr(i, 1) + "`";
        return std::nullopt;
      }
      out.push_back({false, text.substr(i, j - i), 0});
      i = j;
      expect_key = false;
    }
  }
  if (expect_key) {
    error = "path ends with `.`";
    return std::nullopt;
  }
  return out;
}

bool path_within(const std::string& path, const std::string& prefix) {
  if (prefix.empty()) return true;
  if (path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '.' || path[prefix.size()] == '[';
}

}  // namespace merx::spec_internal
