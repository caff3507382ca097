// Parsing the Action Unit (AU) strings of the corpora's annotation sheets: one parser for every form that
// occurs (CASME, CASME II, SAMM, CAS(ME)^3, 4DME, MMEW).
//
// Grammar (case-insensitive for letters; leading/trailing whitespace ignored):
//   string   := "" | "/" | "-" | "none"                      -> empty = true, no units
//             | term (sep term)*
//   sep      := "+" | "," | ";" | whitespace | full-width "，" "；" "＋" (runs and doubled seps tolerated)
//   term     := unit ("or" unit)*                              -> alternatives (see AuParse)
//   unit     := ["AU"] [side] ["AU"] number [intensity] [mark]   e.g. 4, AU4, au 4, L10, R14A, AUR2, 12B
//   side     := "L" | "R"                                      (left / right; absent = both or unstated)
//   number   := 1..99 (leading zeros allowed; full-width digits accepted)
//   intensity:= "A" | "B" | "C" | "D" | "E"                    (FACS intensity trace..maximum)
//   mark     := "(k)" | "(?)" | "?"                            -> uncertain = true; a mark standing alone
//                                                                 after a unit ("4 (k)") applies to it
// `or` binds tighter than the separators: "4+R14A or 17A" reads as 4 + (R14A or 17A), giving the
// alternative sets {4, R14A} and {4, 17A}.
#pragma once

#include <string>
#include <vector>

#include "merx/errors.h"

namespace merx {

/// One FACS Action Unit as coded in a sheet.
struct ActionUnit {
  int number = 0;          // FACS AU number, 1..99 (e.g. 4 = brow lowerer, 12 = lip corner puller)
  char side = 0;           // 'L' (left), 'R' (right), or 0 when not stated (bilateral or unspecified)
  char intensity = 0;      // FACS intensity 'A' (trace) .. 'E' (maximum), or 0 when not stated
  bool uncertain = false;  // marked "(k)" / "(?)": 4DME marks static or doubtful AUs with "(k)"

  bool operator==(const ActionUnit& o) const {
    return number == o.number && side == o.side && intensity == o.intensity && uncertain == o.uncertain;
  }
  bool operator!=(const ActionUnit& o) const { return !(*this == o); }
};

/// Result of parsing one AU cell.
struct AuParse {
  /// The AUs in written order (duplicates kept). When the string contains `or`, the first alternative set.
  std::vector<ActionUnit> units;
  /// Only when `or` occurs: every alternative set (the cartesian product of the choices, in written order,
  /// first = `units`); empty otherwise. An errata entry normally picks one; otherwise keep all.
  std::vector<std::vector<ActionUnit>> alternatives;
  bool ambiguous = false;  // `or` occurred (alternatives.size() >= 2)
  bool empty = false;      // "", "/", "-" or "none": the sheet states no AU
};

/// A token that is not an AU. what(): "AU string '4+7x': cannot read '7x' ('x' after the AU number is not an
/// intensity A..E)" or "AU string 'neutral': cannot read 'neutral' (expected an AU such as 4, AU4, L10, R14A,
/// 12B or 4(k))". Adapters catch it and rethrow a UserError that adds dataset, subject and clip.
class AuParseError : public UserError {
 public:
  AuParseError(std::string text, std::string token, const std::string& why);
  const std::string& text() const { return text_; }  // the whole AU string as given
  std::string token() const { return token_; }       // the offending token (as written, trimmed)

 private:
  std::string text_, token_;
};

/// Parses an AU string (see the grammar above). Throws AuParseError on any token outside the grammar:
/// an unknown word, an AU number of 0 or above 99, an intensity letter past 'E', a dangling "or", a mark
/// with no unit before it, more than 64 alternative sets.
AuParse parse_au_string(const std::string& text);

/// Canonical text of one unit: side, number, intensity, then "(k)" when uncertain: "R14A", "4", "L10(k)".
std::string to_string(const ActionUnit& unit);

/// Canonical text of a unit list, joined with "+": "4+L10+R14A"; "" for none.
std::string to_string(const std::vector<ActionUnit>& units);

}  // namespace merx
