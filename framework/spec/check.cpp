#include "spec/check.h"

#include <cmath>

#include "merx/suggest.h"
#include "spec/json_path.h"

namespace merx::spec_internal {

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "the number " + v.dump();
    case json::value_t::string: {
      std::string s = v.dump();
      if (s.size() > 60) s = s.substr(0, 57) + "...\"";
      return "the string " + s;
    }
    case json::value_t::array:
      return "a list";
    case json::value_t::object:
      return "an object";
    default:
      return "a value";
  }
}

std::string type_message(const std::string& what, const json& v) {
  return "expected " + what + ", got " + describe(v);
}

std::string backquoted_list(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "`" : ", `") + n + "`";
  return s.empty() ? "(none)" : s;
}

void check_keys(const json& obj, const std::string& path, const std::vector<std::string>& allowed,
                const std::string& what, Findings& out) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == it.key();
    if (ok) continue;
    std::string msg = "`" + it.key() + "` is not a " + what;
    const std::string dym = did_you_mean(it.key(), allowed);
    if (!dym.empty())
      msg += dym;
    else
      msg += allowed.empty() ? " (there are none)" : " (valid: " + backquoted_list(allowed) + ")";
    add_key(out, path_key(path, it.key()), msg);
  }
}

bool expect_object(const json& v, const std::string& path, Findings& out) {
  if (v.is_object()) return true;
  add_value(out, path, type_message("an object", v));
  return false;
}

std::optional<int64_t> as_integer(const json& v) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740992.0)
      return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::optional<std::string> string_field(const json& obj, const std::string& key, const std::string& path,
                                        bool required, Findings& out) {
  const std::string p = path_key(path, key);
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) add_value(out, p, "required field is missing");
    return std::nullopt;
  }
  if (!it->is_string()) {
    add_value(out, p, type_message("a string", *it));
    return std::nullopt;
  }
  if (it->get<std::string>().empty()) {
    add_value(out, p, "must not be empty");
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::string number_text(double v) {
  if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) <= 9007199254740992.0)
    return std::to_string(static_cast<int64_t>(v));
  return json(v).dump();
}

std::optional<json> cast_value(const ParamDecl& d, const json& v, std::string& reason) {
  auto bounds = [&](double x) -> bool {
    if (d.min && x < *d.min) {
      reason = json(v).dump() + " is below the minimum " + number_text(*d.min);
      return false;
    }
    if (d.max && x > *d.max) {
      reason = json(v).dump() + " is above the maximum " + number_text(*d.max);
      return false;
    }
    return true;
  };
  switch (d.type) {
    case ParamType::Int: {
      auto i = as_integer(v);
      if (!i) {
        reason = v.is_number() ? type_message("an integer", v) + " (not a whole number)"
                               : type_message("an integer", v);
        return std::nullopt;
      }
      if (!bounds(static_cast<double>(*i))) return std::nullopt;
      return json(*i);
    }
    case ParamType::Float: {
      if (!v.is_number()) {
        reason = type_message("a number", v);
        return std::nullopt;
      }
      double x = v.get<double>();
      if (x == 0) x = 0;  // -0.0 -> 0.0
      if (!bounds(x)) return std::nullopt;
      return json(x);
    }
    case ParamType::Bool:
      if (!v.is_boolean()) {
        reason = type_message("true or false", v);
        return std::nullopt;
      }
      return v;
    case ParamType::String: {
      if (!v.is_string()) {
        reason = type_message("a string", v);
        return std::nullopt;
      }
      if (!d.choices.empty()) {
        const auto s = v.get<std::string>();
        for (const auto& c : d.choices)
          if (c == s) return v;
        reason = "`" + s + "` is not one of " + backquoted_list(d.choices) + did_you_mean(s, d.choices);
        return std::nullopt;
      }
      return v;
    }
  }
  reason = "unknown parameter type";
  return std::nullopt;
}

json check_params_into(const std::vector<ParamDecl>& decls, const json& given, const std::string& path,
                       const std::string& owner, Findings& out) {
  json resolved = json::object();
  for (const auto& d : decls) resolved[d.name] = d.default_value;
  // Defaults are cast too, so a Float declared with an integer default still resolves to a double.
  for (const auto& d : decls) {
    std::string ignored;
    if (auto c = cast_value(d, d.default_value, ignored)) resolved[d.name] = *c;
  }
  if (given.is_null()) return resolved;
  if (!given.is_object()) {
    add_value(out, path, type_message("an object of parameters", given));
    return resolved;
  }
  std::vector<std::string> names;
  for (const auto& d : decls) names.push_back(d.name);
  for (auto it = given.begin(); it != given.end(); ++it) {
    const std::string p = path_key(path, it.key());
    const ParamDecl* decl = nullptr;
    for (const auto& d : decls)
      if (d.name == it.key()) decl = &d;
    if (!decl) {
      std::string msg = "`" + it.key() + "` is not a parameter of " + owner;
      const std::string dym = did_you_mean(it.key(), names);
      if (!dym.empty())
        msg += dym;
      else
        msg += names.empty() ? " (it has none)" : " (parameters: " + backquoted_list(names) + ")";
      add_key(out, p, msg);
      continue;
    }
    std::string reason;
    if (auto c = cast_value(*decl, *it, reason))
      resolved[decl->name] = *c;
    else
      add_value(out, p, reason);
  }
  return resolved;
}

}  // namespace merx::spec_internal
