// Random search draws. Each parameter's draw has its own generator, seeded from (search seed, draw number,
// plugin kind, plugin name, parameter name): adding a variant, a grid value or a draw never changes the
// values drawn for the existing ones, and every sweep point with the same plugin gets the same draw r
// (paired designs). std::uniform_*_distribution is avoided: its output differs between standard libraries.
#include <cmath>
#include <random>

#include "merx/hash.h"
#include "spec/internal.h"

namespace merx::spec_internal {
namespace {

// 53 random bits -> [0, 1), exactly representable.
double unit(std::mt19937_64& g) {
  return static_cast<double>(g() >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace

json draw_param(const ParamDecl& decl, PluginKind kind, const std::string& plugin, int64_t search_seed,
                int64_t draw) {
  return draw_param(decl, std::string(to_string(kind)), plugin, search_seed, draw);
}

json draw_param(const ParamDecl& decl, const std::string& owner, const std::string& plugin, int64_t search_seed,
                int64_t draw) {
  const json key = {{"search_seed", search_seed},
                    {"draw", draw},
                    {"kind", owner},
                    {"plugin", plugin},
                    {"param", decl.name}};
  std::mt19937_64 g(hash64(canonical_json(key)));
  const Search& s = decl.search;
  double x = 0;
  switch (s.kind) {
    case Search::Kind::None:
      return decl.default_value;
    case Search::Kind::Choice: {
      if (s.values.empty()) return decl.default_value;
      const auto n = s.values.size();
      auto i = static_cast<size_t>(unit(g) * static_cast<double>(n));
      return s.values[i < n ? i : n - 1];
    }
    case Search::Kind::IntUniform: {
      const auto lo = static_cast<int64_t>(s.lo), hi = static_cast<int64_t>(s.hi);
      const double n = static_cast<double>(hi - lo + 1);
      auto v = lo + static_cast<int64_t>(unit(g) * n);
      return json(v > hi ? hi : v);
    }
    case Search::Kind::Uniform:
      x = s.lo + unit(g) * (s.hi - s.lo);
      break;
    case Search::Kind::Log10Uniform: {
      // u0 is drawn whatever zero_prob is, so the exponent always comes from the second number.
      const double u0 = unit(g);
      if (s.zero_prob > 0 && u0 < s.zero_prob) return decl.type == ParamType::Int ? json(0) : json(0.0);
      x = std::pow(10.0, s.lo + unit(g) * (s.hi - s.lo));
      break;
    }
  }
  if (decl.type == ParamType::Int) return json(static_cast<int64_t>(std::llround(x)));
  return json(x);
}

}  // namespace merx::spec_internal
