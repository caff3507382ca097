// load_dataset(): adapter rows -> errata -> label mapping / membership -> frames + validation -> records.
#include "merx/datasets/load.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "datasets/errata.h"
#include "datasets/pipeline.h"
#include "merx/datasets/adapters.h"
#include "merx/datasets/au.h"
#include "merx/datasets/frames.h"
#include "merx/suggest.h"
#include "merx/hash.h"

namespace merx {

LoadMode load_mode_from_string(const std::string& text) {
  if (text == "strict") return LoadMode::Strict;
  if (text == "lenient") return LoadMode::Lenient;
  throw UserError("mode '" + text + "' is not strict or lenient");
}

std::vector<std::string> LoadResult::subjects() const {
  std::set<std::string> s;
  for (const auto& r : samples) s.insert(r.global_subject);
  return {s.begin(), s.end()};
}

size_t LoadResult::corrections() const {
  size_t n = 0;
  for (const auto& r : samples) n += r.corrections.size();
  return n;
}

std::optional<bool> SampleRecord::has_au(int number) const {
  if (!aus) return std::nullopt;
  for (const auto& a : *aus)
    if (a.number == number) return true;
  return false;
}

namespace ds {

std::string AdapterContext::option_string(const std::string& key, const std::string& fallback) const {
  if (options.contains(key) && options[key].is_string()) return options[key].get<std::string>();
  return fallback;
}

std::string AdapterContext::frames_template() const {
  return option_string("frames", adapter.frames);
}

}  // namespace ds

const std::vector<AdapterOption>& common_adapter_options() {
  static const std::vector<AdapterOption> o = {
      {"frame_gaps", "int", "0", "missing frame files tolerated per clip inside onset..offset (recorded)"},
      {"errata", "string", "",
       "extra errata JSON file (same format as the built-in ones), applied after them"},
      {"frames", "string", "(per adapter)",
       "clip folder template relative to the root, e.g. \"{subject}/{clip}\""},
      {"pattern", "string", "", "frame file name pattern, e.g. \"img{N}.jpg\"; default: every image file"},
      {"sheet", "string", "(first sheet)", "worksheet of the annotation file"},
      {"cropped", "bool", "false", "the frames are already face crops (e.g. MEB's cropped copies)"},
      {"fps", "number", "(per adapter)", "frames per second, overriding the corpus value"},
      {"openface", "string", "",
       "folder of OpenFace CSVs <subject>/<clip>.csv, relative to the root (au_gan's au_source `openface`)"},
  };
  return o;
}

std::vector<Problem> adapter_option_problems(const AdapterInfo& a, const nlohmann::json& options,
                                             const std::string& path) {
  std::vector<Problem> problems;
  std::vector<std::string> names;
  for (const auto& c : common_adapter_options()) names.push_back(c.name);
  for (const auto& c : a.options) names.push_back(c.name);
  for (auto it = options.begin(); it != options.end(); ++it) {
    const AdapterOption* o = nullptr;
    for (const auto* list : {&common_adapter_options(), &a.options})
      for (const auto& c : *list)
        if (c.name == it.key()) o = &c;
    const std::string at = path + "." + it.key();
    if (!o) {
      std::string accepted;
      for (const auto& n : names) accepted += (accepted.empty() ? "" : ", ") + n;
      problems.push_back({at, "unknown option for adapter " + a.name + did_you_mean(it.key(), names) +
                                  " (accepted: " + accepted + ")"});
      continue;
    }
    const auto& v = it.value();
    bool ok = (o->type == "int" && v.is_number_integer() && v.get<int64_t>() >= 0) ||
              (o->type == "string" && v.is_string()) || (o->type == "bool" && v.is_boolean()) ||
              (o->type == "number" && v.is_number() && v.get<double>() > 0) ||
              (o->type == "object" && v.is_object());
    if (!ok)
      problems.push_back({at, "expected " + (o->type == "int" ? std::string("an integer >= 0") : o->type)});
  }
  return problems;
}

namespace {

using ds::ClipRow;
using ds::Erratum;

bool is_missing(const std::string& v) {
  std::string t;
  for (char c : v)
    if (!std::isspace(static_cast<unsigned char>(c))) t += c;
  return t.empty() || t == "/" || t == "-";
}

void check_options(const AdapterInfo& a, const nlohmann::json& options, const std::string& dataset) {
  if (!options.is_object()) throw UserError("dataset '" + dataset + "': options must be an object");
  auto problems = adapter_option_problems(a, options, "dataset '" + dataset + "' options");
  if (!problems.empty()) throw ValidationError(problems);
}

std::filesystem::path resolve_annotations(const AdapterInfo& a, const DatasetSource& s,
                                          const std::string& dataset) {
  if (!s.annotations.empty()) {
    if (!std::filesystem::is_regular_file(s.annotations))
      throw UserError("dataset '" + dataset + "': annotation file " + s.annotations.string() +
                      " does not exist");
    return s.annotations;
  }
  if (a.annotations != "required") return {};
  for (const auto& dir : {s.root, s.root.parent_path()})
    for (const auto& n : a.annotation_names)
      if (std::filesystem::is_regular_file(dir / n)) return dir / n;
  std::string names;
  for (const auto& n : a.annotation_names) names += (names.empty() ? "" : ", ") + n;
  throw UserError("dataset '" + dataset + "': adapter " + a.name +
                  " needs its annotation file (give `annotations` / --annotations); none of " +
                  (names.empty() ? std::string("its default names") : names) + " is in " + s.root.string() +
                  " or its parent folder");
}

std::string& field_ref(ClipRow& r, const std::string& f) {
  if (f == "onset") return r.onset;
  if (f == "apex") return r.apex;
  if (f == "offset") return r.offset;
  if (f == "emotion") return r.emotion;
  return r.au;
}

bool same_value(const std::string& field, const std::string& a, const std::string& b) {
  if (field == "onset" || field == "apex" || field == "offset") {
    auto x = to_integer(a), y = to_integer(b);
    if (x && y) return *x == *y;
  }
  auto trim = [](const std::string& s) {
    size_t i = s.find_first_not_of(" \t"), j = s.find_last_not_of(" \t");
    return i == std::string::npos ? std::string() : s.substr(i, j - i + 1);
  };
  return trim(a) == trim(b);
}

std::string describe(const Erratum& e) {
  return e.origin + " entry " + std::to_string(e.index) + " (" +
         (e.sha256.empty() ? e.subject + "/" + e.clip : "row " + std::to_string(e.row)) + " " + e.field + ")";
}

// Applies matching errata to one row; returns the corrections made.
std::vector<Correction> apply_errata(ClipRow& row, const std::vector<Erratum>& errata, const std::string& sha,
                                     std::vector<bool>& used, std::vector<std::string>& notes) {
  std::vector<Correction> out;
  for (size_t i = 0; i < errata.size(); ++i) {
    const Erratum& e = errata[i];
    const bool match = e.sha256.empty() ? normalise_name(e.subject) == normalise_name(row.subject) &&
                                              normalise_name(e.clip) == normalise_name(row.clip)
                                        : e.sha256 == sha && e.row == row.row && row.file.size();
    if (!match) continue;
    used[i] = true;
    std::string& v = field_ref(row, e.field);
    if (e.has_old) {
      const bool ok = e.old_value ? same_value(e.field, v, *e.old_value) : is_missing(v);
      if (!ok) {
        notes.push_back(describe(e) + " not applied: the sheet has '" + v + "', the erratum expects '" +
                        e.old_value.value_or("(missing)") + "'");
        continue;
      }
    }
    Correction c{e.note ? "note" : "set",
                 e.field,
                 v,
                 e.note ? "" : e.new_value.value_or(""),
                 e.reason,
                 e.source,
                 e.origin};
    if (!e.note) v = e.new_value.value_or("");
    out.push_back(std::move(c));
  }
  return out;
}

std::string ranges_text(const std::vector<int64_t>& v, size_t max_ranges = 6) {
  std::string s;
  size_t n = 0;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (n++ == max_ranges) return s + ", ...";
    s += (s.empty() ? "" : ", ") + std::to_string(v[i]) + (j > i ? ".." + std::to_string(v[j]) : "");
    i = j + 1;
  }
  return s;
}

struct Prepared {
  ClipRow row;
  std::vector<Correction> corrections;
  std::string subject_norm, clip_norm;
  int occurrence = 1;
  std::string key;
  std::optional<std::string> label;
  bool selected = true;
  std::string excluded_reason;
};

}  // namespace

namespace {

std::vector<ClipRow> read_rows(const AdapterInfo& a, const DatasetSource& src, const std::string& dataset,
                               std::filesystem::path& annotations) {
  check_options(a, src.options, dataset);
  if (!std::filesystem::is_directory(src.root))
    throw UserError("dataset '" + dataset + "': root " + src.root.string() + " is not a folder");
  annotations = resolve_annotations(a, src, dataset);
  ds::AdapterContext ctx{a, src, dataset, annotations, src.options, {}};
  a.read(ctx);
  return std::move(ctx.rows);
}

const AdapterInfo& adapter_of(const DatasetSource& src) {
  const AdapterInfo* a = find_adapter(src.adapter);
  if (!a || !a->read) {
    std::string names;
    for (const auto& x : dataset_adapters()) names += (names.empty() ? "" : ", ") + x.name;
    throw UserError("unknown dataset adapter '" + src.adapter + "' (" + names + ")");
  }
  return *a;
}

}  // namespace

std::vector<std::string> dataset_subjects(const DatasetSource& source) {
  const AdapterInfo& a = adapter_of(source);
  std::filesystem::path ann;
  auto rows = read_rows(a, source, source.name.empty() ? a.name : source.name, ann);
  std::set<std::string> s;
  for (const auto& r : rows) s.insert(r.subject);
  std::vector<std::string> out(s.begin(), s.end());
  std::sort(out.begin(), out.end(), ds::natural_less);
  return out;
}

LoadResult load_dataset(const DatasetSource& source, const LoadOptions& options) {
  const AdapterInfo& a = adapter_of(source);
  const std::string dataset = source.name.empty() ? a.name : source.name;
  LoadResult result;
  result.dataset = dataset;
  result.adapter = a.name;

  std::filesystem::path annotations;
  std::vector<ClipRow> rows = read_rows(a, source, dataset, annotations);
  if (!annotations.empty())
    result.annotations_sha256 = source.annotations_sha256.empty() || annotations != source.annotations
                                    ? sha256_file(annotations)
                                    : source.annotations_sha256;

  // ---- errata ----
  std::vector<Erratum> errata = ds::builtin_errata(a.name);
  if (!errata.empty())
    result.notes.push_back("errata: builtin:" + a.name + " (" + std::to_string(errata.size()) + " entries)");
  if (source.options.contains("errata")) {
    std::filesystem::path f = source.options["errata"].get<std::string>();
    if (f.is_relative() && !annotations.empty() && !std::filesystem::exists(f))
      f = annotations.parent_path() / f;
    auto extra = ds::errata_from_file(f.string());
    result.notes.push_back("errata: " + f.string() + " (" + std::to_string(extra.size()) + " entries)");
    errata.insert(errata.end(), extra.begin(), extra.end());
  }
  std::vector<bool> used(errata.size(), false);

  const int64_t frame_gaps = source.options.value("frame_gaps", int64_t{0});
  const std::string pattern = source.options.value("pattern", std::string());
  const bool cropped = source.options.value("cropped", false);
  const double fps = source.options.contains("fps") ? source.options["fps"].get<double>() : a.fps;

  // ---- errata, keys, selection ----
  std::vector<Prepared> prepared;
  std::map<std::string, size_t> first_of;  // subject/clip (normalised) -> index into prepared
  std::map<std::string, int> occurrences;
  std::vector<std::pair<const MembershipEntry*, bool>> listed;  // this dataset's membership rows, used?
  std::map<std::string, size_t> listed_index;
  if (options.membership) {
    if (options.labels.name != "native" && options.labels.name != "megc3" && options.labels.name != "custom")
      map_label(options.labels, a.name, "");  // throws the unknown-mapping error
    for (const auto& e : options.membership->entries)
      if (Membership::matches_dataset(e.dataset, dataset, a.name)) {
        listed_index[normalise_name(e.subject) + "/" + normalise_name(e.clip)] = listed.size();
        listed.push_back({&e, false});
      }
  }
  if (options.labels.name == "megc3" && !options.membership && !megc3_defined(a.name))
    megc3_class(a.name, "");  // throws: no rules for this corpus

  std::vector<Problem> problems;
  for (auto& r : rows) {
    Prepared p;
    p.row = std::move(r);
    p.corrections = apply_errata(p.row, errata, result.annotations_sha256, used, result.notes);
    p.subject_norm = normalise_name(p.row.subject);
    p.clip_norm = normalise_name(p.row.clip);
    const std::string sc = p.subject_norm + "/" + p.clip_norm;
    p.occurrence = ++occurrences[sc];
    p.key = dataset + "/" + p.row.subject + "/" + p.row.clip +
            (p.occurrence > 1 ? "#" + std::to_string(p.occurrence) : "");
    if (options.membership) {
      auto it = listed_index.find(sc);
      // A repeated name in a corpus that does not allow it stays selected so that the duplicate check
      // below reports it: the list cannot say which of the two rows it means.
      if (it == listed_index.end() || (p.occurrence > 1 && a.repeated_clips)) {
        p.selected = false;
        p.excluded_reason = "not in the membership list " + options.membership->file.string();
      } else {
        listed[it->second].second = true;
        p.label = listed[it->second].first->label;
      }
    } else if (options.labels.name == "native") {
      if (!is_missing(p.row.emotion)) p.label = p.row.emotion;
    } else {
      p.label = map_label(options.labels, a.name, p.row.emotion);
      if (!p.label) {
        const std::string why = "label '" + p.row.emotion + "' has no " + options.labels.name + " class";
        if (options.labels.unmapped == "error") {
          p.row.problems.push_back(why);
        } else {
          p.selected = false;
          p.excluded_reason = why;
        }
      }
    }
    if (p.occurrence > 1 && !a.repeated_clips && p.selected) {
      const auto& first = prepared[first_of[sc]];
      p.row.problems.push_back("duplicate clip " + p.row.subject + "/" + p.row.clip + " (first at " +
                               first.row.where + ")");
    }
    if (p.occurrence == 1) first_of[sc] = prepared.size();
    prepared.push_back(std::move(p));
  }
  for (size_t i = 0; i < errata.size(); ++i)
    if (!used[i]) result.notes.push_back(describe(errata[i]) + " matched no clip");

  // ---- frames and validation of the selected clips ----
  // A clip with problems: dropped with its reasons (lenient) or every problem listed (strict).
  auto report = [&](const std::string& key, const std::string& where, const std::vector<std::string>& errs) {
    std::string joined;
    for (const auto& e : errs) joined += (joined.empty() ? "" : "; ") + e;
    if (options.mode == LoadMode::Lenient) {
      result.dropped.push_back({key, where, joined});
    } else {
      for (const auto& e : errs) problems.push_back({where, key + ": " + e});
    }
  };
  for (auto& p : prepared) {
    if (!p.selected) {
      result.excluded.push_back({p.key, p.row.where, p.excluded_reason});
      continue;
    }
    ClipRow& r = p.row;
    std::vector<std::string> errs = r.problems;
    SampleRecord s;
    s.key = p.key;
    s.dataset = dataset;
    s.adapter = a.name;
    s.subject = r.subject;
    s.global_subject = dataset + "/" + r.subject;
    s.clip = r.clip;
    s.occurrence = p.occurrence;
    s.emotion = r.emotion;
    s.label = p.label;
    s.fps = fps;
    s.color = a.grayscale ? ColorMode::Grayscale : ColorMode::Color;
    s.face_cropped = cropped;
    s.source_file = r.file.empty() ? r.where : r.file;
    s.source_row = r.row;
    s.corrections = p.corrections;
    s.corrected = std::any_of(p.corrections.begin(), p.corrections.end(),
                              [](const Correction& c) { return c.kind == "set"; });
    s.au_text = r.au;

    std::optional<int64_t> onset, offset, apex;
    if (!r.range_from_frames && r.input_image.empty()) {  // a precomputed input has no range
      onset = to_integer(r.onset);
      offset = to_integer(r.offset);
      if (!onset) errs.push_back("onset '" + r.onset + "' is not a frame number");
      if (!offset) errs.push_back("offset '" + r.offset + "' is not a frame number");
    }
    if (a.codes_apex && !is_missing(r.apex)) {
      apex = to_integer(r.apex);
      if (!apex) errs.push_back("apex '" + r.apex + "' is not a frame number");
    }

    // AUs
    if (r.codes_aus.value_or(a.codes_aus)) {
      try {
        AuParse au = parse_au_string(r.au);
        std::vector<ActionUnit> units = au.units;
        if (au.ambiguous) {
          s.au_alternatives = au.alternatives;
          units.clear();
          for (const auto& alt : au.alternatives)
            for (const auto& u : alt) {
              bool everywhere = true;
              for (const auto& other : au.alternatives)
                if (std::find(other.begin(), other.end(), u) == other.end()) everywhere = false;
              ActionUnit v = u;
              if (!everywhere) v.uncertain = true;
              if (std::find(units.begin(), units.end(), v) == units.end()) units.push_back(v);
            }
        }
        s.aus = units;
      } catch (const AuParseError& e) {
        errs.push_back(std::string("AU string: ") + e.what());
      }
    }

    // A precomputed input (flow_images) has no frames to list and no onset..offset: only its file.
    if (!r.input_image.empty()) {
      if (options.frames)
        if (const std::string why = ds::flow_image_problem(r.input_image); !why.empty())
          errs.push_back("flow image " + r.input_image.string() + " " + why);
      if (!errs.empty()) {
        report(p.key, r.where, errs);
        continue;
      }
      s.folder = r.input_image.parent_path();
      s.input_image = r.input_image;
      s.frames = {r.input_image};
      s.frame_numbers = {0};
      result.samples.push_back(std::move(s));
      continue;
    }

    // frames
    std::filesystem::path folder;
    try {
      folder = source.root / ds::expand_template(r.folder_template, r.vars);
    } catch (const UserError& e) {
      errs.push_back(e.what());
    }
    s.folder = folder;
    std::vector<FrameFile> files;
    bool listed_ok = false;
    if (!options.frames && r.range_from_frames) onset = offset = int64_t{0};  // sheets only: no range
    if (!folder.empty() && options.frames) {
      try {
        if (!std::filesystem::is_directory(folder)) {
          errs.push_back("frame folder " + folder.string() + " does not exist");
        } else {
          files = list_frames(folder, pattern);
          if (files.empty())
            errs.push_back("no frame images in " + folder.string());
          else
            listed_ok = true;
        }
      } catch (const UserError& e) {
        errs.push_back(e.what());
      }
    }
    if (listed_ok && r.range_from_frames) {
      onset = files.front().number;
      offset = files.back().number;
    }
    if (onset && offset && *onset > *offset)
      errs.push_back("onset " + std::to_string(*onset) + " is after offset " + std::to_string(*offset));
    if (onset && offset && apex && (*apex < *onset || *apex > *offset))
      errs.push_back("apex " + std::to_string(*apex) + " is outside onset..offset " + std::to_string(*onset) +
                     ".." + std::to_string(*offset));
    if (listed_ok && onset && offset && *onset <= *offset) {
      std::vector<int64_t> outside;
      std::vector<FrameFile> inside;
      for (const auto& f : files) {
        if (f.number < *onset || f.number > *offset)
          outside.push_back(f.number);
        else
          inside.push_back(f);
      }
      if (options.check_frame_files)  // every file the clip uses, whatever else is wrong with the clip
        for (const auto& f : inside)
          if (const std::string why = frame_file_problem(f.path); !why.empty())
            errs.push_back("frame file " + f.path.string() + " " + why);
      if (!outside.empty() && !r.long_video)
        errs.push_back(folder.string() + " has " + std::to_string(outside.size()) +
                       " frame file(s) outside onset..offset " + std::to_string(*onset) + ".." +
                       std::to_string(*offset) + ": " + ranges_text(outside));
      std::vector<int64_t> missing;
      size_t k = 0;
      for (int64_t n = *onset; n <= *offset; ++n) {
        while (k < inside.size() && inside[k].number < n) ++k;
        if (k < inside.size() && inside[k].number == n) continue;
        missing.push_back(n);
        if (missing.size() > 100000) break;
      }
      if (static_cast<int64_t>(missing.size()) > frame_gaps) {
        errs.push_back("frames missing in " + folder.string() + ": " + ranges_text(missing) + " (" +
                       std::to_string(missing.size()) + " of " + std::to_string(*offset - *onset + 1) +
                       "; frame_gaps allows " + std::to_string(frame_gaps) + ")");
      } else if (inside.empty()) {
        errs.push_back("no frame numbered " + std::to_string(*onset) + ".." + std::to_string(*offset) +
                       " in " + folder.string());
      } else {
        s.missing_frames = missing;
        for (const auto& f : inside) {
          s.frames.push_back(f.path);
          s.frame_numbers.push_back(f.number);
        }
      }
    }

    if (!errs.empty()) {
      report(p.key, r.where, errs);
      continue;
    }
    s.onset = *onset;
    s.offset = *offset;
    s.onset_index = 0;
    s.offset_index = s.frames.empty() ? 0 : s.frames.size() - 1;  // empty only when options.frames is false
    if (!apex) {
      if (a.apex_midpoint) {
        apex = *onset + (*offset - *onset) / 2;
        s.apex_estimated = true;
      } else {
        s.apex_missing = true;
      }
    }
    s.apex = apex;
    if (apex) {
      size_t idx = 0;
      for (size_t i = 0; i < s.frame_numbers.size(); ++i)
        if (s.frame_numbers[i] <= *apex) idx = i;
      s.apex_index = idx;
    }
    result.samples.push_back(std::move(s));
  }
  if (!problems.empty()) throw DatasetError(problems);

  for (const auto& [e, was_used] : listed)
    if (!was_used) result.missing_listed.push_back({e->subject, e->clip, e->line});
  return result;
}

}  // namespace merx
