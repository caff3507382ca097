// CAS(ME)^3 part A (Li et al. 2022): 30 fps colour (+ depth). ME label file
// cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx (sheet "label", 860 rows): Subject ("spNO.1"), Filename (the
// video letter a..m), Onset, Apex, Offset, AU, Objective class, emotion. Several expressions share one
// (subject, letter): the 2nd, 3rd ... get occurrence 2, 3 (key ...#2). Raw frames
// part_A/{Subject}/{letter}/color/{N}.jpg hold the whole video: the clip is the files numbered
// onset..offset. Subject folders may be spelled "spNo.1" (case differs from the sheet): matched
// case-insensitively. MEB's extracted copy: frames "{subject}/{clip}{dup}/color" ({dup} = "", "2", "3"...).
#include <cctype>
#include <map>

#include "datasets/pipeline.h"

namespace merx::ds {

namespace {
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

AdapterInfo casme3a_adapter() {
  AdapterInfo a;
  a.name = "casme3a";
  a.corpus = "CAS(ME)^3 part A";
  a.annotations = "required";
  a.description =
      "root = part_A: {Subject}/{letter}/color/{N}.jpg + cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx";
  a.annotation_names = {"cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"};
  a.frames = "{subject_folder}/{clip}/color";
  a.fps = 30;
  a.repeated_clips = true;
  a.read = [](AdapterContext& ctx) {
    std::map<std::string, std::string> folders;  // lower-case name -> name on disk
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(ctx.source.root, ec))
      if (e.is_directory()) folders[lower(e.path().filename().string())] = e.path().filename().string();
    std::map<std::string, int> seen;
    SheetLayout l;
    l.default_sheet = "label";
    l.subject = {"Subject"};
    l.clip = {"Filename"};
    l.onset = {"Onset", "OnsetFrame"};
    l.apex = {"Apex", "ApexFrame"};
    l.offset = {"Offset", "OffsetFrame"};
    l.au = {"AU", "Action Units"};
    l.emotion = {"emotion", "Estimated Emotion"};
    l.finish = [&](ClipRow& r, const Table&, size_t, const HeaderMatch&) {
      auto it = folders.find(lower(r.subject));
      r.vars["subject_folder"] = it == folders.end() ? r.subject : it->second;
      const int n = ++seen[lower(r.subject) + "/" + r.clip];
      r.vars["dup"] = n > 1 ? std::to_string(n) : "";
      r.long_video = true;
    };
    read_sheet(ctx, l);
  };
  return a;
}

}  // namespace merx::ds
