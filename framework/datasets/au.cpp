// AU string parser (grammar in merx/datasets/au.h). Tokenise on separators, then read each token as a
// unit, an `or`, or a mark; `or` joins the units on either side into one choice group, and the groups'
// cartesian product gives the alternative sets.
#include "merx/datasets/au.h"

#include <cctype>

namespace merx {

namespace {

constexpr size_t kMaxAlternatives = 64;

// Full-width forms (U+FF01..U+FF5E: "，" "＋" "４" "（" ...) and the ideographic space to ASCII; other bytes
// are kept, so non-ASCII text still reaches the error message as written.
std::string to_ascii_forms(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 == 0xE3 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        static_cast<unsigned char>(s[i + 2]) == 0x80) {  // U+3000
      out += ' ';
      i += 2;
      continue;
    }
    if (b0 == 0xEF && i + 2 < s.size()) {
      const unsigned cp = ((b0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
                          (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
      if (cp >= 0xFF01 && cp <= 0xFF5E) {
        out += static_cast<char>(cp - 0xFEE0);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool is_separator(char c) {
  return c == '+' || c == ',' || c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool iequals(const std::string& a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i]; ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  return i == a.size() && !b[i];
}

bool is_mark(const std::string& t) {
  return iequals(t, "(k)") || iequals(t, "(?)") || t == "?";
}

const char* const kExpected = "expected an AU such as 4, AU4, L10, R14A, 12B or 4(k)";

/// Reads one unit token; returns false with `why` set when the token is not a unit.
bool read_unit(const std::string& tok, ActionUnit& u, std::string& why) {
  size_t i = 0;
  const auto upper = [&](size_t k) {
    return k < tok.size() ? static_cast<char>(std::toupper(static_cast<unsigned char>(tok[k]))) : '\0';
  };
  const auto take_au = [&] {
    if (upper(i) == 'A' && upper(i + 1) == 'U') i += 2;
  };
  u = ActionUnit{};
  take_au();
  if (upper(i) == 'L' || upper(i) == 'R') u.side = upper(i++);
  take_au();
  size_t digits = 0;
  long n = 0;
  for (; i < tok.size() && std::isdigit(static_cast<unsigned char>(tok[i])); ++i, ++digits)
    if (n < 1000) n = n * 10 + (tok[i] - '0');
  if (digits == 0) {
    why = kExpected;
    return false;
  }
  if (n < 1 || n > 99) {
    why = "AU number " + std::to_string(n) + " is outside 1..99";
    return false;
  }
  u.number = static_cast<int>(n);
  if (const char c = upper(i); c >= 'A' && c <= 'Z') {
    if (c > 'E') {
      why = std::string("'") + tok[i] + "' after the AU number is not an intensity A..E";
      return false;
    }
    u.intensity = c;
    ++i;
  }
  if (i < tok.size()) {
    if (!is_mark(tok.substr(i))) {
      why = kExpected;
      return false;
    }
    u.uncertain = true;
  }
  return true;
}

}  // namespace

AuParseError::AuParseError(std::string text, std::string token, const std::string& why)
    : UserError("AU string '" + text + "': cannot read '" + token + "' (" + why + ")"),
      text_(std::move(text)),
      token_(std::move(token)) {}

AuParse parse_au_string(const std::string& text) {
  AuParse out;
  const std::string s = to_ascii_forms(text);

  // Tokens; "AU" or "au" standing alone is glued to the next token ("au 4" -> "au4").
  std::vector<std::string> tokens;
  for (size_t i = 0; i < s.size();) {
    if (is_separator(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !is_separator(s[j])) ++j;
    tokens.push_back(s.substr(i, j - i));
    i = j;
  }
  for (size_t k = 0; k + 1 < tokens.size(); ++k) {
    if (iequals(tokens[k], "au") && !tokens[k + 1].empty() &&
        std::isalnum(static_cast<unsigned char>(tokens[k + 1][0])) && !iequals(tokens[k + 1], "or")) {
      tokens[k] += tokens[k + 1];
      tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(k) + 1);
    }
  }

  if (tokens.empty() ||
      (tokens.size() == 1 && (tokens[0] == "/" || tokens[0] == "-" || iequals(tokens[0], "none")))) {
    out.empty = true;
    return out;
  }

  std::vector<std::vector<ActionUnit>> groups;  // each group: the choices joined by `or`
  bool pending_or = false;
  for (const auto& tok : tokens) {
    if (iequals(tok, "or")) {
      if (groups.empty() || pending_or) throw AuParseError(text, tok, "'or' must stand between two AUs");
      pending_or = true;
      continue;
    }
    if (is_mark(tok)) {
      if (groups.empty() || pending_or)
        throw AuParseError(text, tok, "an uncertainty mark must follow an AU");
      groups.back().back().uncertain = true;
      continue;
    }
    ActionUnit u;
    std::string why;
    if (!read_unit(tok, u, why)) throw AuParseError(text, tok, why);
    if (pending_or) {
      groups.back().push_back(u);
      pending_or = false;
    } else {
      groups.push_back({u});
    }
  }
  if (pending_or) throw AuParseError(text, "or", "'or' must stand between two AUs");

  size_t combos = 1;
  for (const auto& g : groups) {
    combos *= g.size();
    if (combos > kMaxAlternatives)
      throw AuParseError(text, text,
                         "more than " + std::to_string(kMaxAlternatives) + " alternative AU sets");
  }
  if (combos == 1) {
    for (const auto& g : groups) out.units.push_back(g.front());
    return out;
  }
  out.ambiguous = true;
  out.alternatives.assign(1, {});
  for (const auto& g : groups) {
    std::vector<std::vector<ActionUnit>> next;
    for (const auto& prefix : out.alternatives)
      for (const auto& choice : g) {
        next.push_back(prefix);
        next.back().push_back(choice);
      }
    out.alternatives = std::move(next);
  }
  out.units = out.alternatives.front();
  return out;
}

std::string to_string(const ActionUnit& unit) {
  std::string s;
  if (unit.side) s += unit.side;
  s += std::to_string(unit.number);
  if (unit.intensity) s += unit.intensity;
  if (unit.uncertain) s += "(k)";
  return s;
}

std::string to_string(const std::vector<ActionUnit>& units) {
  std::string s;
  for (const auto& u : units) s += (s.empty() ? "" : "+") + to_string(u);
  return s;
}

}  // namespace merx
