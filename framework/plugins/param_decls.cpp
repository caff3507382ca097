// Self-consistency of parameter declarations: a plugin whose own defaults or search ranges contradict its
// declared bounds would fail only later, in the middle of a sweep; the host refuses it at load instead.
#include <cmath>
#include <set>
#include <sstream>

#include "merx/plugins/registry.h"

namespace merx {
namespace {

std::string num(double v) {
  std::ostringstream s;
  s.precision(15);
  s << v;
  return s.str();
}

bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Bounds compared with a relative tolerance: a search range written as log10 exponents (10^-4) must not be
// refused for the last bit of pow(10, -4) against the literal 1e-4.
bool below(double v, double lo) {
  return v < lo - 1e-12 * std::max(1.0, std::fabs(lo));
}
bool above(double v, double hi) {
  return v > hi + 1e-12 * std::max(1.0, std::fabs(hi));
}

std::string range_problem(const ParamDecl& d, double v, const std::string& what) {
  if (d.min && below(v, *d.min)) return what + " " + num(v) + " is below min " + num(*d.min);
  if (d.max && above(v, *d.max)) return what + " " + num(v) + " is above max " + num(*d.max);
  return "";
}

// "" when `v` is a valid value of `d` (type, bounds, choices), else the reason.
std::string value_problem(const ParamDecl& d, const json& v, const std::string& what) {
  switch (d.type) {
    case ParamType::Int:
      if (!v.is_number_integer()) return what + " " + v.dump() + " is not an int";
      return range_problem(d, v.get<double>(), what);
    case ParamType::Float:
      if (!v.is_number() || !std::isfinite(v.get<double>()))
        return what + " " + v.dump() + " is not a finite float";
      return range_problem(d, v.get<double>(), what);
    case ParamType::Bool:
      if (!v.is_boolean()) return what + " " + v.dump() + " is not a bool";
      return "";
    case ParamType::String:
      if (!v.is_string()) return what + " " + v.dump() + " is not a string";
      if (!d.choices.empty()) {
        const auto s = v.get<std::string>();
        bool found = false;
        for (const auto& c : d.choices) found = found || c == s;
        if (!found) return what + " " + v.dump() + " is not one of the choices";
      }
      return "";
  }
  return what + ": unknown type";
}

void check_search(const ParamDecl& d, std::vector<std::string>& out) {
  const Search& s = d.search;
  const bool numeric = d.type == ParamType::Int || d.type == ParamType::Float;
  auto add = [&](const std::string& m) {
    if (!m.empty()) out.push_back("parameter '" + d.name + "': " + m);
  };
  auto check_lohi = [&](double lo, double hi, const char* dist) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
      add(std::string("search ") + dist + "(" + num(lo) + ", " + num(hi) + ") needs finite lo <= hi");
      return false;
    }
    return true;
  };
  switch (s.kind) {
    case Search::Kind::None:
      return;
    case Search::Kind::Uniform:
      if (d.type != ParamType::Float) return add("search uniform needs a float parameter");
      if (check_lohi(s.lo, s.hi, "uniform")) {
        add(range_problem(d, s.lo, "search lower end"));
        add(range_problem(d, s.hi, "search upper end"));
      }
      return;
    case Search::Kind::Log10Uniform:
      if (d.type != ParamType::Float) return add("search log10_uniform needs a float parameter");
      if (check_lohi(s.lo, s.hi, "log10_uniform")) {
        add(range_problem(d, std::pow(10.0, s.lo), "search lower end"));
        add(range_problem(d, std::pow(10.0, s.hi), "search upper end"));
      }
      if (!(s.zero_prob >= 0 && s.zero_prob < 1))
        add("search zero_prob " + num(s.zero_prob) + " is not in [0, 1)");
      if (s.zero_prob > 0) add(range_problem(d, 0.0, "search value"));
      return;
    case Search::Kind::IntUniform:
      if (!numeric) return add("search int_uniform needs an int or float parameter");
      if (check_lohi(s.lo, s.hi, "int_uniform")) {
        add(range_problem(d, s.lo, "search lower end"));
        add(range_problem(d, s.hi, "search upper end"));
      }
      return;
    case Search::Kind::Choice:
      if (s.values.empty()) return add("search choice has no values");
      for (const auto& v : s.values) add(value_problem(d, v, "search value"));
      return;
  }
}

}  // namespace

std::vector<std::string> param_decl_problems(const std::vector<ParamDecl>& decls) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& d : decls) {
    const std::string p = "parameter '" + d.name + "': ";
    if (!valid_name(d.name)) out.push_back(p + "name must match [A-Za-z0-9_]+");
    if (!seen.insert(d.name).second) out.push_back(p + "declared twice");
    const bool numeric = d.type == ParamType::Int || d.type == ParamType::Float;
    if ((d.min || d.max) && !numeric) out.push_back(p + "min/max only apply to int and float parameters");
    if ((d.min && !std::isfinite(*d.min)) || (d.max && !std::isfinite(*d.max)))
      out.push_back(p + "min/max must be finite");
    if (d.min && d.max && *d.min > *d.max)
      out.push_back(p + "min " + num(*d.min) + " is greater than max " + num(*d.max));
    if (!d.choices.empty() && d.type != ParamType::String)
      out.push_back(p + "choices only apply to string parameters");
    if (d.file && d.type != ParamType::String) out.push_back(p + "only a string parameter can be a file path");
    if (d.file && d.search.kind != Search::Kind::None) out.push_back(p + "a file path cannot be searched");
    const std::string def = value_problem(d, d.default_value, "default");
    if (!def.empty()) out.push_back(p + def);
    check_search(d, out);
  }
  return out;
}

}  // namespace merx
