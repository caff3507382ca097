#include <cmath>

#include "merx/spec/spec.h"

namespace merx {
namespace {

// Integral numbers become integers so that 1 and 1.0 are one value; beyond 2^53 a double no longer names
// one integer unambiguously, so it stays a double.
json canonical_value(const json& v) {
  switch (v.type()) {
    case json::value_t::number_float: {
      const double d = v.get<double>();
      if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740992.0)
        return json(static_cast<int64_t>(d));
      return json(d);
    }
    case json::value_t::number_unsigned:
      if (v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)) return json(v.get<int64_t>());
      return v;
    case json::value_t::object: {
      json o = json::object();
      for (auto it = v.begin(); it != v.end(); ++it) o[it.key()] = canonical_value(it.value());
      return o;
    }
    case json::value_t::array: {
      json a = json::array();
      for (const auto& e : v) a.push_back(canonical_value(e));
      return a;
    }
    default:
      return v;
  }
}

}  // namespace

std::string canonical_json(const json& value) {
  // nlohmann's object is a std::map: dump() writes keys in byte order, and no indent means no whitespace.
  return canonical_value(value).dump(-1, ' ', false, json::error_handler_t::strict);
}

}  // namespace merx
