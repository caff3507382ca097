// AU strings: every form that occurs in the corpora's sheets, and every error form.
#include <doctest/doctest.h>

#include "merx/datasets/au.h"

using merx::ActionUnit;
using merx::AuParse;
using merx::AuParseError;
using merx::parse_au_string;
using merx::to_string;

namespace {

std::vector<std::string> alternatives_text(const AuParse& p) {
  std::vector<std::string> out;
  for (const auto& a : p.alternatives) out.push_back(to_string(a));
  return out;
}

}  // namespace

TEST_CASE("AU strings: every accepted form (table)") {
  struct Row {
    const char* text;
    const char* units;  // canonical to_string of AuParse::units
  };
  const Row rows[] = {
      {"4+7", "4+7"},                    // CASME II
      {"AU4+AU7", "4+7"},                // AU prefix
      {"au 4", "4"},                     // prefix separated by a space, lower case
      {"AU 4 + AU 7", "4+7"},            //
      {"Au4", "4"},                      //
      {"L10", "L10"},                    // side
      {"R14A", "R14A"},                  // side + intensity
      {"12B", "12B"},                    // intensity
      {"L4+R4", "L4+R4"},                // both sides coded separately
      {"r12c", "R12C"},                  // lower-case side and intensity
      {"AU4 + R12C", "4+R12C"},          // MEB's test fixture
      {"AUR2+12(k)+45", "R2+12(k)+45"},  // 4DME: AU prefix before the side, (k) mark
      {"AU4(k)+L7", "4(k)+L7"},          // 4DME
      {"4(K)", "4(k)"},                  //
      {"4 (k)", "4(k)"},                 // mark standing alone after its unit
      {"4(?)", "4(k)"},                  //
      {"4?", "4(k)"},                    //
      {"AU4C(k)", "4C(k)"},              // intensity then mark
      {"4,7", "4+7"},                    // comma (CAS(ME)^3 part C)
      {"4，7", "4+7"},                   // full-width comma
      {"4；7", "4+7"},                   // full-width semicolon
      {"４＋７", "4+7"},                 // full-width digits and plus
      {"4\xE3\x80\x80"
       "7",
       "4+7"},             // ideographic space
      {"4;7", "4+7"},      //
      {"4 7", "4+7"},      // spaces only
      {"4 + 7", "4+7"},    //
      {"  4+7\t", "4+7"},  // surrounding whitespace
      {"4++7", "4+7"},     // doubled separator
      {"+4+", "4"},        // stray leading/trailing separator
      {"04", "4"},         // leading zero
      {"1", "1"},          // bounds
      {"99", "99"},        //
      {"1+2+4+5+6+7+9+10+12+14+15+17+20+23+24+25+26+43", "1+2+4+5+6+7+9+10+12+14+15+17+20+23+24+25+26+43"},
      {"4+4", "4+4"},               // duplicates kept as written
      {"R14A or 17A", "R14A"},      // SAMM: alternatives, units = first
      {"4+R14A or 17A", "4+R14A"},  //
      {"R12 OR R15", "R12"},        //
  };
  for (const auto& r : rows) {
    INFO("AU string '" << std::string(r.text) << "'");
    const AuParse p = parse_au_string(r.text);
    CHECK(to_string(p.units) == r.units);
    CHECK_FALSE(p.empty);
    CHECK(p.ambiguous == !p.alternatives.empty());
  }
}

TEST_CASE("AU strings: empty forms") {
  for (const char* text : {"", "   ", "/", " / ", "-", "none", "NONE"}) {
    INFO("AU string '" << std::string(text) << "'");
    const AuParse p = parse_au_string(text);
    CHECK(p.empty);
    CHECK(p.units.empty());
    CHECK_FALSE(p.ambiguous);
    CHECK(p.alternatives.empty());
  }
}

TEST_CASE("AU strings: 'or' gives every alternative set, 'or' binding tighter than '+'") {
  struct Row {
    const char* text;
    std::vector<std::string> alternatives;
  };
  const Row rows[] = {
      {"R14A or 17A", {"R14A", "17A"}},
      {"4+R14A or 17A", {"4+R14A", "4+17A"}},
      {"R12 OR R15", {"R12", "R15"}},
      {"4 or 7 or 9", {"4", "7", "9"}},
      {"4 or 7+12 or 15", {"4+12", "4+15", "7+12", "7+15"}},
      {"L14 or R14 (k)", {"L14", "R14(k)"}},
      {"12，R14A or 17A", {"12+R14A", "12+17A"}},
  };
  for (const auto& r : rows) {
    INFO("AU string '" << std::string(r.text) << "'");
    const AuParse p = parse_au_string(r.text);
    CHECK(p.ambiguous);
    CHECK(alternatives_text(p) == r.alternatives);
    CHECK(to_string(p.units) == r.alternatives.front());
  }
}

TEST_CASE("AU strings: fields of a unit") {
  const AuParse p = parse_au_string("R14A+L10(k)+4");
  REQUIRE(p.units.size() == 3);
  CHECK(p.units[0] == ActionUnit{14, 'R', 'A', false});
  CHECK(p.units[1] == ActionUnit{10, 'L', 0, true});
  CHECK(p.units[2] == ActionUnit{4, 0, 0, false});
}

TEST_CASE("AU strings: every error form names the token (table)") {
  struct Row {
    const char* text;
    const char* token;
    const char* why;  // part of the message
  };
  const Row rows[] = {
      {"4+7x", "7x", "'x' after the AU number is not an intensity A..E"},
      {"AU", "AU", "expected an AU such as"},
      {"L", "L", "expected an AU such as"},
      {"R 14A", "R", "expected an AU such as"},
      {"X4", "X4", "expected an AU such as"},
      {"0", "0", "AU number 0 is outside 1..99"},
      {"AU100", "AU100", "AU number 100 is outside 1..99"},
      {"12F", "12F", "'F' after the AU number is not an intensity A..E"},
      {"12AB", "12AB", "expected an AU such as"},
      {"4(j)", "4(j)", "expected an AU such as"},
      {"4.5", "4.5", "expected an AU such as"},
      {"4/7", "4/7", "expected an AU such as"},
      {"4-7", "4-7", "expected an AU such as"},
      {"4:7", "4:7", "expected an AU such as"},
      {"neutral", "neutral", "expected an AU such as"},
      {"nan", "nan", "expected an AU such as"},
      {"4 and 7", "and", "expected an AU such as"},
      {"4 or", "or", "'or' must stand between two AUs"},
      {"or 4", "or", "'or' must stand between two AUs"},
      {"4 or or 7", "or", "'or' must stand between two AUs"},
      {"(k)", "(k)", "an uncertainty mark must follow an AU"},
      {"4 or (k)", "(k)", "an uncertainty mark must follow an AU"},
      {"1 or 2+3 or 4+5 or 6+7 or 8+9 or 10+11 or 12+13 or 14",
       "1 or 2+3 or 4+5 or 6+7 or 8+9 or 10+11 or 12+13 or 14", "more than 64 alternative AU sets"},
  };
  for (const auto& r : rows) {
    INFO("AU string '" << std::string(r.text) << "'");
    try {
      parse_au_string(r.text);
      FAIL("expected AuParseError");
    } catch (const AuParseError& e) {
      CHECK(e.token() == r.token);
      CHECK(e.text() == r.text);
      const std::string msg = e.what();
      CHECK(msg.find(std::string("AU string '") + r.text + "': cannot read '" + r.token + "' (") == 0);
      CHECK(msg.find(r.why) != std::string::npos);
    }
  }
}

TEST_CASE("AuParseError is a UserError so that an unhandled one exits with status 2") {
  CHECK_THROWS_AS(parse_au_string("4+7x"), merx::UserError);
}

TEST_CASE("AU canonical text") {
  CHECK(to_string(ActionUnit{12, 'L', 'B', true}) == "L12B(k)");
  CHECK(to_string(std::vector<ActionUnit>{}) == "");
}
