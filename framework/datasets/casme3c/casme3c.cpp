// CAS(ME)^3 part C: 30 fps colour (+ depth .png), one long video per subject. Label file
// CAS(ME)3_part_C_ME.xlsx: sub (integer), count (the subject's ME number), onset, offset, au (commas, one
// row with a full-width comma); no apex (apex_missing) and no emotion. Subject padded to 2 digits. Raw
// frames part_C/{SS}/a/color/{N}.jpg (the whole video: the clip is the files numbered onset..offset);
// MEB's copy: frames "{subject}/{clip}/color". Clip name = count.
#include "datasets/pipeline.h"

namespace merx::ds {

AdapterInfo casme3c_adapter() {
  AdapterInfo a;
  a.name = "casme3c";
  a.corpus = "CAS(ME)^3 part C";
  a.annotations = "required";
  a.description = "root = part_C: {SS}/a/color/{N}.jpg + CAS(ME)3_part_C_ME.xlsx (no apex, no emotion)";
  a.annotation_names = {"CAS(ME)3_part_C_ME.xlsx"};
  a.frames = "{subject}/a/color";
  a.fps = 30;
  a.codes_apex = false;
  a.read = [](AdapterContext& ctx) {
    SheetLayout l;
    l.subject = {"sub", "Subject"};
    l.clip = {"count"};
    l.onset = {"onset"};
    l.offset = {"offset"};
    l.au = {"au", "AU"};
    l.subject_id = [](const std::string& s, std::vector<std::string>& p) {
      return padded_subject(s, "", 2, p);
    };
    l.finish = [](ClipRow& r, const Table&, size_t, const HeaderMatch&) { r.long_video = true; };
    read_sheet(ctx, l);
  };
  return a;
}

}  // namespace merx::ds
