#include "merx/spec/params_check.h"

#include "spec/check.h"

namespace merx {

json check_params(const std::vector<ParamDecl>& decls, const json& given, const std::string& path,
                  const std::string& owner, std::vector<Problem>& problems) {
  spec_internal::Findings f;
  json resolved = spec_internal::check_params_into(decls, given, path, owner, f);
  for (auto& x : f) problems.push_back({std::move(x.path), std::move(x.message)});
  return resolved;
}

json cast_params(const std::vector<ParamDecl>& decls, const json& given) {
  json out = json::object();
  if (!given.is_object()) return out;
  for (const auto& d : decls) {
    auto it = given.find(d.name);
    if (it == given.end()) continue;
    std::string reason;
    if (auto c = spec_internal::cast_value(d, *it, reason)) out[d.name] = *c;
  }
  return out;
}

}  // namespace merx
