// manifest: any corpus, described by a CSV (or .xlsx) with one row per clip. Header row required; columns
// (any order, names case-insensitive):
//   subject  local subject id (becomes <dataset>/<subject>)
//   clip     clip name, unique within the subject
//   frames   the clip's frame folder, relative to the dataset root (or absolute)
//   onset, apex, offset   frame numbers as in the file names (apex may be empty: apex_missing)
//   label    native label (alias: emotion)
//   aus      optional AU string ("4+L10+R14A"); without the column the corpus codes no AUs
#include "datasets/pipeline.h"

namespace merx::ds {

AdapterInfo manifest_adapter() {
  AdapterInfo a;
  a.name = "manifest";
  a.corpus = "any corpus";
  a.annotations = "required";
  a.description =
      "a CSV with one row per clip: subject, clip, frames (folder), onset, apex, offset, label[, aus]";
  a.annotation_names = {"annotations.csv", "manifest.csv"};
  a.frames = "{frames}";
  a.fps = 0;  // unknown unless the `fps` option says
  a.read = [](AdapterContext& ctx) {
    const Table t = read_annotations(ctx);
    const HeaderMatch h = find_header(
        t,
        {{"subject"}, {"clip"}, {"frames", "folder"}, {"onset"}, {"apex"}, {"offset"}, {"label", "emotion"}});
    const auto au = h.find({"aus", "au", "action units"});
    for (size_t i = h.row_index + 1; i < t.rows.size(); ++i) {
      ClipRow r;
      r.subject = t.cell(i, h.at("subject"));
      r.clip = clip_text(t.cell(i, h.at("clip")));
      r.onset = t.cell(i, h.at("onset"));
      r.apex = t.cell(i, h.at("apex"));
      r.offset = t.cell(i, h.at("offset"));
      r.emotion = t.cell(i, h.at("label"));
      r.codes_aus = au.has_value();
      if (au) r.au = t.cell(i, *au);
      r.where = t.where(i);
      r.file = ctx.annotations.string();
      r.row = static_cast<int>(t.row_numbers[i]);
      if (r.subject.empty()) r.problems.push_back("subject cell is empty");
      if (r.clip.empty()) r.problems.push_back("clip cell is empty");
      const std::string frames = t.cell(i, h.at("frames"));
      if (frames.empty()) r.problems.push_back("frames cell is empty");
      r.folder_template = ctx.frames_template();
      r.vars = {{"subject", r.subject}, {"clip", r.clip}, {"emotion", r.emotion}, {"frames", frames}};
      ctx.rows.push_back(std::move(r));
    }
  };
  return a;
}

}  // namespace merx::ds
