// Reading a spec: strict JSON with duplicate-key detection, --set overrides, ${VAR} substitution.
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "merx/errors.h"
#include "merx/hash.h"
#include "merx/spec/spec.h"
#include "merx/suggest.h"
#include "spec/check.h"
#include "spec/internal.h"
#include "spec/json_path.h"

namespace merx {
namespace {

using namespace spec_internal;
namespace fs = std::filesystem;

// --set may create these when absent (framework sections whose keys the validator knows), so that
// `--set training.epochs=1` works on a spec without a training block while a typo still fails.
bool creatable(const JsonPath& parent, const std::string& key) {
  if (parent.empty())
    return key == "backbone" || key == "regularizer" || key == "augmenter" || key == "recipe" ||
           key == "protocol" || key == "training" || key == "labels" || key == "sweep";
  if (parent.size() == 1 && !parent[0].is_index) {
    const std::string& p = parent[0].key;
    if (key == "params")
      return p == "backbone" || p == "regularizer" || p == "augmenter" || p == "recipe" || p == "protocol";
    if (p == "labels") return key == "map";
    if (p == "sweep") return key == "grid" || key == "random";
  }
  if (parent.size() == 2 && !parent[0].is_index && parent[0].key == "datasets" && parent[1].is_index)
    return key == "options";
  return false;
}

std::vector<std::string> keys_of(const json& obj) {
  std::vector<std::string> k;
  for (auto it = obj.begin(); it != obj.end(); ++it) k.push_back(it.key());
  return k;
}

void apply_set(json& doc, const std::string& arg, Findings& out) {
  // Split at the first '=' outside a ["..."] key.
  size_t eq = std::string::npos;
  bool in_quotes = false;
  for (size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] == '"' && (i == 0 || arg[i - 1] != '\\')) in_quotes = !in_quotes;
    if (arg[i] == '=' && !in_quotes) {
      eq = i;
      break;
    }
  }
  const std::string what = "--set `" + arg + "`";
  if (eq == std::string::npos) {
    add_value(out, "", what + ": expected path=value");
    return;
  }
  const std::string path_text = arg.substr(0, eq), value_text = arg.substr(eq + 1);
  std::string error;
  auto segs = parse_path(path_text, error);
  if (!segs) {
    add_value(out, "", what + ": bad path: " + error);
    return;
  }
  json value;
  try {
    value = json::parse(value_text);
  } catch (const json::parse_error&) {
    value = value_text;  // not JSON: a plain string such as `lodo` or `data/casme2`
  }

  json* node = &doc;
  JsonPath walked;
  for (size_t k = 0; k < segs->size(); ++k) {
    const PathSegment& seg = (*segs)[k];
    const bool last = k + 1 == segs->size();
    const std::string parent_path = format_path(walked);
    JsonPath here = walked;
    here.push_back(seg);
    const std::string here_path = format_path(here);
    if (seg.is_index) {
      if (!node->is_array()) {
        add_value(out, parent_path, what + ": `" + parent_path + "` is " + describe(*node) + ", not a list");
        return;
      }
      const size_t n = node->size();
      if (seg.index > n || (seg.index == n && !last)) {
        add_value(
            out, here_path,
            what + ": no element " + std::to_string(seg.index) + " (the list has " + std::to_string(n) + ")");
        return;
      }
      if (last) {
        if (seg.index == n)
          node->push_back(value);
        else
          (*node)[seg.index] = value;
        return;
      }
      node = &(*node)[seg.index];
    } else {
      if (!node->is_object()) {
        add_value(out, parent_path,
                  what + ": `" + parent_path + "` is " + describe(*node) + ", not an object");
        return;
      }
      if (last) {
        (*node)[seg.key] = value;
        return;
      }
      if (!node->contains(seg.key)) {
        if (!creatable(walked, seg.key)) {
          std::vector<std::string> candidates = keys_of(*node);
          if (walked.empty())
            candidates.insert(candidates.end(), spec_fields().begin(), spec_fields().end());
          add_key(out, here_path,
                  what + ": `" + here_path + "` does not exist" + did_you_mean(seg.key, candidates));
          return;
        }
        (*node)[seg.key] = json::object();
      }
      node = &(*node)[seg.key];
    }
    walked.push_back(seg);
  }
}

bool valid_var_name(const std::string& n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

// `unset`: variables already reported; the first use gets the remedy, later uses a short pointer to it.
std::string substitute(const std::string& s, const std::string& path, const EnvLookup& env,
                       std::set<std::string>& unset, Findings& out) {
  std::string r;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 3, "$${") == 0) {  // escape: $${ is a literal ${
      r += "${";
      i += 3;
      continue;
    }
    if (s.compare(i, 2, "${") != 0) {
      r += s[i++];
      continue;
    }
    const size_t close = s.find('}', i + 2);
    if (close == std::string::npos) {
      add_value(out, path, "unterminated `${` (write `$${` for a literal `${`)");
      return s;
    }
    const std::string inner = s.substr(i + 2, close - i - 2);
    const size_t dflt = inner.find(":-");
    const std::string name = inner.substr(0, dflt);
    if (!valid_var_name(name)) {
      add_value(out, path,
                "`${" + inner + "}`: `" + name + "` is not a variable name ([A-Za-z_][A-Za-z0-9_]*)");
      return s;
    }
    const std::optional<std::string> v = env ? env(name) : std::nullopt;
    if (dflt != std::string::npos && (!v || v->empty())) {
      r += inner.substr(dflt + 2);
    } else if (v) {
      r += *v;
    } else {
      const bool first = unset.insert(name).second;
      add_value(out, path,
                "environment variable `" + name + "` is not set" +
                    (first ? ": `export " + name + "=...` before running merx (or write `${" + name +
                                 ":-default}` in the spec for a fallback)"
                           : " (see its first use above)"));
      return s;
    }
    i = close + 1;
  }
  return r;
}

void substitute_all(json& v, const std::string& path, const EnvLookup& env, std::set<std::string>& unset,
                    Findings& out) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.find("${") != std::string::npos) v = substitute(s, path, env, unset, out);
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it)
      substitute_all(it.value(), path_key(path, it.key()), env, unset, out);
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) substitute_all(v[i], path_index(path, i), env, unset, out);
  }
}

// Duplicate keys: nlohmann keeps the last value silently; a parser callback sees every key.
class DuplicateKeyFinder {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        element();
        frames_.push_back({false, -1, "", {}});
        break;
      case json::parse_event_t::array_start:
        element();
        frames_.push_back({true, -1, "", {}});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        break;
      case json::parse_event_t::key: {
        Frame& f = frames_.back();
        f.key = parsed.get<std::string>();
        if (!f.seen.insert(f.key).second) duplicates.push_back(path_key(container_path(), f.key));
        break;
      }
      case json::parse_event_t::value:
        element();
        break;
    }
    return true;
  }
  std::vector<std::string> duplicates;

 private:
  struct Frame {
    bool array;
    long index;
    std::string key;
    std::set<std::string> seen;
  };
  void element() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }
  // Path of the innermost open container.
  std::string container_path() const {
    std::string p;
    for (size_t i = 0; i + 1 < frames_.size(); ++i)
      p = frames_[i].array ? path_index(p, static_cast<size_t>(frames_[i].index))
                           : path_key(p, frames_[i].key);
    return p;
  }
  std::vector<Frame> frames_;
};

SpecSource prepare(json document, const fs::path& base_dir, const fs::path& file,
                   const std::vector<std::string>& sets, const EnvLookup& env, Findings findings) {
  SpecSource src;
  src.file = file;
  src.base_dir = fs::absolute(base_dir).lexically_normal();
  src.sets = sets;
  if (!document.is_object()) {
    add_value(findings, "", "the spec must be a JSON object, got " + describe(document));
  } else {
    for (const auto& s : sets) apply_set(document, s, findings);
    std::set<std::string> unset;
    substitute_all(document, "", env, unset, findings);
  }
  if (!findings.empty()) {
    std::vector<Problem> problems;
    for (auto& f : findings) problems.push_back({std::move(f.path), std::move(f.message)});
    throw ValidationError(std::move(problems));
  }
  src.document = std::move(document);
  return src;
}

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

SpecSource load_spec(const fs::path& file, const std::vector<std::string>& sets, const EnvLookup& env) {
  const fs::path abs = fs::absolute(file).lexically_normal();
  std::ifstream in(abs, std::ios::binary);
  if (!in || fs::is_directory(abs)) throw UserError(abs.string() + ": cannot read the spec file");
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();

  DuplicateKeyFinder dups;
  json doc;
  try {
    doc = json::parse(text, std::ref(dups));
  } catch (const json::parse_error& e) {
    // nlohmann says "... parse error at line L, column C: <detail>"; restate it as file:line:col.
    const std::string what = e.what();
    std::smatch m;
    static const std::regex re("line ([0-9]+), column ([0-9]+): (.*)");
    if (std::regex_search(what, m, re))
      throw UserError(abs.string() + ":" + m[1].str() + ":" + m[2].str() +
                      ": JSON syntax error: " + m[3].str());
    throw UserError(abs.string() + ": JSON syntax error: " + what);
  }
  Findings findings;
  for (const auto& d : dups.duplicates)
    add_key(findings, d, "key written twice in one object (the last value would win)");
  return prepare(std::move(doc), abs.parent_path(), abs, sets, env, std::move(findings));
}

SpecSource spec_from_json(json document, const fs::path& base_dir, const std::vector<std::string>& sets,
                          const EnvLookup& env) {
  return prepare(std::move(document), base_dir, fs::path(), sets, env, {});
}

std::string spec_hash(const SpecSource& spec) {
  return sha256_hex(canonical_json(spec.document));
}

std::vector<fs::path> spec_plugin_dirs(const SpecSource& spec) {
  std::vector<fs::path> out;
  auto it = spec.document.find("plugin_paths");
  if (it == spec.document.end() || !it->is_array()) return out;
  for (const auto& p : *it) {
    if (!p.is_string() || p.get<std::string>().empty()) continue;
    const fs::path abs = (spec.base_dir / p.get<std::string>()).lexically_normal();
    std::error_code ec;
    if (fs::is_directory(abs, ec)) out.push_back(abs);
  }
  return out;
}

}  // namespace merx
