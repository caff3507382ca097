// SMIC (Li et al. 2013), HS (100 fps, colour, 640x480), VIS and NIR (25 fps). No official annotation
// sheet: clips are the folders {subject}/micro/{emotion}/{clip} (HS: HS/s1/micro/negative/s1_ne_01/
// image000123.bmp), the label is the emotion folder (negative / positive / surprise) and onset/offset are
// the numbers of the first and last frame file. No apex and no AUs: the apex is estimated as
// onset + (offset - onset) / 2 (apex_estimated). Optionally a sheet (MEB's smic.xlsx: subject, material,
// emotion, onset, offset) gives onset/offset instead; the folder is then built from the template.
#include "datasets/pipeline.h"

namespace merx::ds {

void read_smic(AdapterContext& ctx) {
  if (!ctx.annotations.empty()) {
    SheetLayout l;
    l.subject = {"subject", "Subject"};
    l.clip = {"material", "Filename", "clip"};
    l.onset = {"onset", "OnsetFrame"};
    l.offset = {"offset", "OffsetFrame"};
    l.emotion = {"emotion", "Emotion"};
    read_sheet(ctx, l);
    return;
  }
  const std::string tmpl = ctx.frames_template();
  for (auto& m : walk_template(ctx.source.root, tmpl)) {
    ClipRow r;
    r.subject = m.vars.count("subject") ? m.vars["subject"] : "";
    r.clip = m.vars.count("clip") ? m.vars["clip"] : m.folder.filename().string();
    r.emotion = m.vars.count("emotion") ? m.vars["emotion"] : "";
    r.folder_template = tmpl;
    r.vars = m.vars;
    r.range_from_frames = true;
    r.where = m.folder.string();
    if (r.subject.empty() || r.emotion.empty())
      r.problems.push_back("frames template '" + tmpl + "' must contain {subject}, {emotion} and {clip}");
    ctx.rows.push_back(std::move(r));
  }
}

namespace {
AdapterInfo smic_base(const std::string& name, const std::string& corpus, double fps) {
  AdapterInfo a;
  a.name = name;
  a.corpus = corpus;
  a.annotations = "optional";
  a.frames = "{subject}/micro/{emotion}/{clip}";
  a.fps = fps;
  a.codes_aus = false;
  a.codes_apex = false;
  a.apex_midpoint = true;
  a.read = read_smic;
  return a;
}
}  // namespace

AdapterInfo smic_hs_adapter() {
  AdapterInfo a = smic_base("smic_hs", "SMIC-HS", 100);
  a.description = "root = SMIC/HS: {subject}/micro/{emotion}/{clip}/image{NNNNNN}.bmp; labels from folders";
  return a;
}

}  // namespace merx::ds
