#include "merx/datasets/labels.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "merx/errors.h"

namespace merx {
namespace {

std::string lower_trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  std::string out = s.substr(a, b - a);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// MEGC2019 three-class rules (shared/notes/datasets.md §5.1), keys lower case. A label not listed is dropped.
using Rules = std::map<std::string, std::string>;
const std::map<std::string, Rules>& megc3_rules() {
  static const Rules smic = {{"negative", "negative"}, {"positive", "positive"}, {"surprise", "surprise"}};
  static const std::map<std::string, Rules> r = {
      // CASME II: negative = disgust + repression; others, fear, sadness dropped.
      {"casme2",
       {{"disgust", "negative"},
        {"repression", "negative"},
        {"happiness", "positive"},
        {"surprise", "surprise"}}},
      // SAMM: Anger, Contempt, Disgust, Fear, Sadness -> negative (unlike CASME II); Other dropped.
      {"samm",
       {{"anger", "negative"},
        {"contempt", "negative"},
        {"disgust", "negative"},
        {"fear", "negative"},
        {"sadness", "negative"},
        {"happiness", "positive"},
        {"surprise", "surprise"}}},
      {"smic_hs", smic},
      {"smic_vis", smic},
      {"smic_nir", smic},
      // CAS(ME)^3 part A: not part of MEGC2019; third-party use (CARF): others dropped.
      {"casme3a",
       {{"disgust", "negative"},
        {"fear", "negative"},
        {"anger", "negative"},
        {"sad", "negative"},
        {"happy", "positive"},
        {"surprise", "surprise"}}},
      // manifest: the corpus is already in the three classes.
      {"manifest", smic},
  };
  return r;
}

}  // namespace

const std::vector<std::string>& megc3_classes() {
  static const std::vector<std::string> c = {"negative", "positive", "surprise"};
  return c;
}

bool megc3_defined(const std::string& adapter) {
  return megc3_rules().count(adapter) > 0;
}

std::optional<std::string> megc3_class(const std::string& adapter, const std::string& native) {
  auto it = megc3_rules().find(adapter);
  if (it == megc3_rules().end())
    throw UserError(
        "labels megc3: no MEGC2019 rule for adapter '" + adapter +
        "' (defined for casme2, samm, smic_hs, smic_vis, smic_nir, casme3a, manifest); use a custom map");
  auto l = it->second.find(lower_trim(native));
  if (l == it->second.end()) return std::nullopt;
  return l->second;
}

std::optional<std::string> map_label(const LabelMapping& mapping, const std::string& adapter,
                                     const std::string& native) {
  if (mapping.name == "native") return native.empty() ? std::nullopt : std::optional<std::string>(native);
  if (mapping.name == "megc3") return megc3_class(adapter, native);
  if (mapping.name == "custom") {
    const std::string key = lower_trim(native);
    for (const auto& [from, to] : mapping.map)
      if (lower_trim(from) == key) return to;
    return std::nullopt;
  }
  throw UserError("labels: unknown mapping '" + mapping.name + "' (native, megc3, custom)");
}

std::string normalise_name(const std::string& name) {
  std::string out;
  const std::string s = lower_trim(name);
  for (size_t i = 0; i < s.size();) {
    if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      size_t j = i;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      size_t k = i;
      while (k + 1 < j && s[k] == '0') ++k;
      out.append(s, k, j - k);
      i = j;
    } else {
      out += s[i++];
    }
  }
  return out;
}

bool Membership::matches_dataset(const std::string& listed, const std::string& dataset,
                                 const std::string& adapter) {
  const std::string l = lower_trim(listed);
  if (l == lower_trim(dataset) || l == lower_trim(adapter)) return true;
  return l == "smic" && adapter == "smic_hs";
}

Membership Membership::read(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UserError("membership list " + file.string() + ": cannot be read");
  Membership m;
  m.file = file;
  std::string line;
  int n = 0;
  std::set<std::string> seen;
  std::vector<Problem> problems;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (n == 1 && line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, ',')) cells.push_back(c);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    bool blank = true;
    for (auto& x : cells) {
      size_t a = x.find_first_not_of(" \t"), b = x.find_last_not_of(" \t");
      x = a == std::string::npos ? "" : x.substr(a, b - a + 1);
      if (!x.empty()) blank = false;
    }
    if (blank) continue;
    const std::string where = file.string() + ", line " + std::to_string(n);
    if (cells.size() != 4 || cells[0].empty() || cells[1].empty() || cells[2].empty() || cells[3].empty()) {
      problems.push_back(
          {where, "expected 4 non-empty fields dataset,subject,clip,label; got '" + line + "'"});
      continue;
    }
    MembershipEntry e{cells[0], cells[1], cells[2], cells[3], n};
    if (e.label == "0" || e.label == "1" || e.label == "2") e.label = megc3_classes()[std::stoi(e.label)];
    const std::string k =
        lower_trim(e.dataset) + "/" + normalise_name(e.subject) + "/" + normalise_name(e.clip);
    if (!seen.insert(k).second) {
      problems.push_back({where, "clip " + e.dataset + "/" + e.subject + "/" + e.clip + " is listed twice"});
      continue;
    }
    m.entries.push_back(std::move(e));
  }
  if (!problems.empty()) throw ValidationError(problems);
  if (m.entries.empty()) throw UserError("membership list " + file.string() + ": no rows");
  return m;
}

const std::vector<int>& au_set(const std::string& name) {
  static const std::map<std::string, std::vector<int>> sets = {
      {"cross", {1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17}},
      {"casme", {1, 4, 9, 14}},
      {"casme2", {1, 2, 4, 7, 12, 14, 15, 17}},
      {"samm", {2, 4, 7, 12}},
      {"mmew", {1, 2, 4, 5, 7, 10, 12, 14}},
      {"fourdme", {1, 2, 4, 6, 7, 12, 17, 45}},
  };
  auto it = sets.find(name);
  if (it == sets.end()) {
    std::string names;
    for (const auto& [k, v] : sets) names += (names.empty() ? "" : ", ") + k;
    throw UserError("unknown AU set '" + name + "' (" + names + ")");
  }
  return it->second;
}

std::vector<std::string> au_set_names() {
  return {"casme", "casme2", "cross", "fourdme", "mmew", "samm"};
}

}  // namespace merx
