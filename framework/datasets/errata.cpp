#include "datasets/errata.h"

#include <fstream>
#include <set>

#include "datasets/pipeline.h"
#include "merx/errors.h"

namespace merx::ds {
namespace {

const std::set<std::string> kFields = {"onset", "apex", "offset", "emotion", "au"};

std::optional<std::string> value_text(const nlohmann::json& v, const std::string& where) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  throw UserError(where + ": values must be strings, integers or null");
}

}  // namespace

std::vector<Erratum> parse_errata(const nlohmann::json& doc, const std::string& origin) {
  if (!doc.is_object() || !doc.contains("errata") || !doc["errata"].is_array())
    throw UserError("errata " + origin + ": expected an object with an array \"errata\"");
  std::vector<Erratum> out;
  size_t i = 0;
  for (const auto& e : doc["errata"]) {
    const std::string where = "errata " + origin + ", entry " + std::to_string(i);
    if (!e.is_object()) throw UserError(where + ": expected an object");
    for (auto it = e.begin(); it != e.end(); ++it) {
      static const std::set<std::string> known = {"subject", "clip", "sha256", "row",    "field",
                                                  "old",     "new",  "kind",   "reason", "source"};
      if (!known.count(it.key())) throw UserError(where + ": unknown key \"" + it.key() + "\"");
    }
    Erratum r;
    r.origin = origin;
    r.index = i;
    auto str = [&](const char* k) -> std::string {
      if (!e.contains(k)) return "";
      if (!e[k].is_string()) throw UserError(where + ": \"" + k + "\" must be a string");
      return e[k].get<std::string>();
    };
    r.subject = str("subject");
    r.clip = str("clip");
    r.sha256 = str("sha256");
    r.field = str("field");
    r.reason = str("reason");
    r.source = str("source");
    const std::string kind = e.contains("kind") ? str("kind") : "set";
    if (kind != "set" && kind != "note") throw UserError(where + ": \"kind\" must be \"set\" or \"note\"");
    r.note = kind == "note";
    if (e.contains("row")) {
      if (!e["row"].is_number_integer() || e["row"].get<int64_t>() < 1)
        throw UserError(where + ": \"row\" must be a 1-based row number");
      r.row = static_cast<int>(e["row"].get<int64_t>());
    }
    const bool by_clip = !r.subject.empty() && !r.clip.empty();
    const bool by_row = !r.sha256.empty() && r.row > 0;
    if (by_clip == by_row)
      throw UserError(where + ": key it by \"subject\" + \"clip\" or by \"sha256\" + \"row\" (exactly one)");
    if (!kFields.count(r.field))
      throw UserError(where + ": \"field\" must be one of onset, apex, offset, emotion, au");
    if (r.reason.empty() || r.source.empty())
      throw UserError(where + ": \"reason\" and \"source\" are required");
    if (e.contains("old")) {
      r.has_old = true;
      r.old_value = value_text(e["old"], where);
    } else if (by_row) {
      throw UserError(where +
                      ": an entry keyed by sha256 + row needs \"old\" (the value that row must hold)");
    }
    if (!r.note) {
      if (!e.contains("new")) throw UserError(where + ": \"new\" is required (or kind \"note\")");
      r.new_value = value_text(e["new"], where);
    } else if (e.contains("new")) {
      throw UserError(where + ": a \"note\" entry changes nothing; remove \"new\"");
    }
    out.push_back(std::move(r));
    ++i;
  }
  return out;
}

std::vector<Erratum> builtin_errata(const std::string& adapter) {
  const std::string& text = builtin_errata_text(adapter);
  if (text.empty()) return {};
  return parse_errata(nlohmann::json::parse(text), "builtin:" + adapter);
}

std::vector<Erratum> errata_from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError("errata file " + path + ": cannot be read");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw UserError("errata file " + path + ": not valid JSON: " + e.what());
  }
  return parse_errata(doc, path);
}

}  // namespace merx::ds
