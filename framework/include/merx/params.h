// Declared parameters: every tunable of a plugin (and of the framework's own recipe and training settings)
// is declared once, with its type, default, allowed range or choices, an optional random-search
// distribution and a doc line (DomainBed's hparams_registry idea). The host validates a spec against these
// declarations, fills in defaults, and hands the plugin a fully resolved JSON object.
//
// Header-only and torch-free: it is part of the plugin SDK.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace merx {

using json = nlohmann::json;

enum class ParamType { Int, Float, Bool, String };

inline const char* to_string(ParamType t) {
  switch (t) {
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::Bool: return "bool";
    case ParamType::String: return "string";
  }
  return "?";
}

inline std::optional<ParamType> param_type_from_string(const std::string& s) {
  if (s == "int") return ParamType::Int;
  if (s == "float") return ParamType::Float;
  if (s == "bool") return ParamType::Bool;
  if (s == "string") return ParamType::String;
  return std::nullopt;
}

/// Random-search distribution of one parameter (DomainBed style). Draws are made by the host
/// (spec/sweep) with its own portable generator, never by the plugin.
///  - uniform(lo, hi):        x ~ U(lo, hi)
///  - log10_uniform(lo, hi):  x = 10^U(lo, hi); with zero_prob p > 0, x = 0 with probability p
///                            (e.g. methods.md §5: beta in {0, 10^U(-3, 0)})
///  - int_uniform(lo, hi):    x ~ U{lo, ..., hi} (inclusive)
///  - choice(values):         one of `values`, equally likely
struct Search {
  enum class Kind { None, Uniform, Log10Uniform, IntUniform, Choice };
  Kind kind = Kind::None;
  double lo = 0, hi = 0, zero_prob = 0;
  std::vector<json> values;

  static Search uniform(double lo, double hi) { return {Kind::Uniform, lo, hi, 0, {}}; }
  static Search log10_uniform(double lo, double hi, double zero_prob = 0) {
    return {Kind::Log10Uniform, lo, hi, zero_prob, {}};
  }
  static Search int_uniform(int64_t lo, int64_t hi) {
    return {Kind::IntUniform, static_cast<double>(lo), static_cast<double>(hi), 0, {}};
  }
  static Search choice(std::vector<json> values) { return {Kind::Choice, 0, 0, 0, std::move(values)}; }
};

/// One declared parameter. Build with the fluent helpers:
///   ParamDecl::real("lambda_js", 1.0).range(0, 100).search(Search::log10_uniform(-2, 1)).doc("...")
struct ParamDecl {
  std::string name;
  ParamType type = ParamType::Float;
  json default_value;                   // must satisfy the declaration itself
  std::optional<double> min, max;      // inclusive bounds for Int/Float
  std::vector<std::string> choices;    // allowed values for String (empty = any string)
  Search search;                       // Kind::None = not searched
  std::string doc;
  /// A string parameter naming a file the plugin reads (e.g. a model file). The host, not the plugin,
  /// resolves a relative value against the spec file's folder, refuses a missing file at validation, hands
  /// the plugin the absolute path, and puts the file's SHA-256 into the cell identity instead of its path
  /// (as it does for annotation files). An empty value means "no file" and is passed through unchanged.
  /// JSON: "file": true (hosts that predate it ignore the key and pass the string verbatim).
  bool file = false;

  static ParamDecl integer(std::string n, int64_t def) { return make(std::move(n), ParamType::Int, def); }
  static ParamDecl real(std::string n, double def) { return make(std::move(n), ParamType::Float, def); }
  static ParamDecl boolean(std::string n, bool def) { return make(std::move(n), ParamType::Bool, def); }
  static ParamDecl string(std::string n, std::string def) {
    return make(std::move(n), ParamType::String, std::move(def));
  }

  ParamDecl&& range(double lo, double hi) && {
    min = lo;
    max = hi;
    return std::move(*this);
  }
  ParamDecl&& at_least(double lo) && {
    min = lo;
    return std::move(*this);
  }
  ParamDecl&& one_of(std::vector<std::string> c) && {
    choices = std::move(c);
    return std::move(*this);
  }
  ParamDecl&& search_as(Search s) && {
    search = std::move(s);
    return std::move(*this);
  }
  ParamDecl&& doc_line(std::string d) && {
    doc = std::move(d);
    return std::move(*this);
  }
  /// Marks a string parameter as a file path (see `file` above).
  ParamDecl&& file_path() && {
    file = true;
    return std::move(*this);
  }

 private:
  static ParamDecl make(std::string n, ParamType t, json def) {
    ParamDecl d;
    d.name = std::move(n);
    d.type = t;
    d.default_value = std::move(def);
    return d;
  }
};

// ---- JSON form of declarations (what crosses the .so boundary in merx_plugin_descriptor::params_json) ----
// [{"name":..,"type":"int|float|bool|string","default":..,"min":..,"max":..,"choices":[..],
//   "search":{"dist":"uniform|log10_uniform|int_uniform|choice","lo":..,"hi":..,"zero_prob":..,
//             "values":[..]},"doc":..,"file":true (only when set)}, ...]

inline json search_to_json(const Search& s) {
  switch (s.kind) {
    case Search::Kind::None: return nullptr;
    case Search::Kind::Uniform: return {{"dist", "uniform"}, {"lo", s.lo}, {"hi", s.hi}};
    case Search::Kind::Log10Uniform:
      return {{"dist", "log10_uniform"}, {"lo", s.lo}, {"hi", s.hi}, {"zero_prob", s.zero_prob}};
    case Search::Kind::IntUniform:
      return {{"dist", "int_uniform"}, {"lo", static_cast<int64_t>(s.lo)}, {"hi", static_cast<int64_t>(s.hi)}};
    case Search::Kind::Choice: return {{"dist", "choice"}, {"values", s.values}};
  }
  return nullptr;
}

/// Throws std::invalid_argument on a malformed search object.
inline Search search_from_json(const json& j) {
  if (j.is_null()) return {};
  const std::string dist = j.at("dist").get<std::string>();
  if (dist == "uniform") return Search::uniform(j.at("lo").get<double>(), j.at("hi").get<double>());
  if (dist == "log10_uniform")
    return Search::log10_uniform(j.at("lo").get<double>(), j.at("hi").get<double>(), j.value("zero_prob", 0.0));
  if (dist == "int_uniform") return Search::int_uniform(j.at("lo").get<int64_t>(), j.at("hi").get<int64_t>());
  if (dist == "choice") return Search::choice(j.at("values").get<std::vector<json>>());
  throw std::invalid_argument("unknown search distribution '" + dist + "'");
}

inline json decl_to_json(const ParamDecl& d) {
  json j = {{"name", d.name}, {"type", to_string(d.type)}, {"default", d.default_value}, {"doc", d.doc}};
  // Bounds of an int parameter are written as integers (64, not 64.0).
  auto bound = [&](double v) { return d.type == ParamType::Int ? json(static_cast<int64_t>(v)) : json(v); };
  if (d.min) j["min"] = bound(*d.min);
  if (d.max) j["max"] = bound(*d.max);
  if (!d.choices.empty()) j["choices"] = d.choices;
  j["search"] = search_to_json(d.search);
  if (d.file) j["file"] = true;
  return j;
}

/// Throws std::invalid_argument (or nlohmann::json::exception) on a malformed declaration.
inline ParamDecl decl_from_json(const json& j) {
  ParamDecl d;
  d.name = j.at("name").get<std::string>();
  auto t = param_type_from_string(j.at("type").get<std::string>());
  if (!t) throw std::invalid_argument("parameter '" + d.name + "': unknown type");
  d.type = *t;
  d.default_value = j.at("default");
  if (j.contains("min") && !j["min"].is_null()) d.min = j["min"].get<double>();
  if (j.contains("max") && !j["max"].is_null()) d.max = j["max"].get<double>();
  if (j.contains("choices")) d.choices = j["choices"].get<std::vector<std::string>>();
  if (j.contains("search")) d.search = search_from_json(j["search"]);
  d.doc = j.value("doc", "");
  d.file = j.value("file", false);
  return d;
}

inline json decls_to_json(const std::vector<ParamDecl>& decls) {
  json a = json::array();
  for (const auto& d : decls) a.push_back(decl_to_json(d));
  return a;
}

inline std::vector<ParamDecl> decls_from_json(const json& a) {
  std::vector<ParamDecl> out;
  for (const auto& j : a) out.push_back(decl_from_json(j));
  return out;
}

/// Read-only view of a plugin's resolved parameters (defaults already filled in by the host).
/// Getters throw std::out_of_range naming the parameter when it is absent (a plugin asking for a name it
/// never declared is a plugin bug, reported as such).
class Params {
 public:
  Params() : j_(json::object()) {}
  explicit Params(json j) : j_(std::move(j)) {}
  static Params parse(const char* text) { return Params(json::parse(text ? text : "{}")); }

  int64_t integer(const std::string& n) const { return at(n).get<int64_t>(); }
  double real(const std::string& n) const { return at(n).get<double>(); }
  bool boolean(const std::string& n) const { return at(n).get<bool>(); }
  std::string string(const std::string& n) const { return at(n).get<std::string>(); }
  bool has(const std::string& n) const { return j_.contains(n); }
  const json& raw() const { return j_; }

 private:
  const json& at(const std::string& n) const {
    auto it = j_.find(n);
    if (it == j_.end()) throw std::out_of_range("parameter '" + n + "' was not resolved by the host");
    return *it;
  }
  json j_;
};

}  // namespace merx
