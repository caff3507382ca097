// CASME II (Yan et al. 2014): 200 fps, colour, 640x480 frames. Official sheet CASME2-coding-20140508.xlsx
// (255 rows; MEB's CASME2-coding-updated.xlsx has 256). Columns Subject, Filename, (blank), OnsetFrame,
// ApexFrame, OffsetFrame, (blank), Action Units, Estimated Emotion; subject written as an integer ("1",
// "01" or "1.0") -> folder sub01; apex "/" when missing. Frames CASME2_RAW_selected/sub{SS}/{clip}/img{N}.jpg
// (N unpadded, = the sheet's frame numbers). Errata: errata.json beside this file.
#include "datasets/pipeline.h"

namespace merx::ds {

AdapterInfo casme2_adapter() {
  AdapterInfo a;
  a.name = "casme2";
  a.corpus = "CASME II";
  a.annotations = "required";
  a.description =
      "root = CASME2_RAW_selected (or Cropped_original): sub{SS}/{clip}/img{N}.jpg + CASME2-coding-*.xlsx";
  a.annotation_names = {"CASME2-coding-20140508.xlsx", "CASME2-coding-updated.xlsx"};
  a.frames = "{subject}/{clip}";
  a.fps = 200;
  a.read = [](AdapterContext& ctx) {
    SheetLayout l;
    l.subject = {"Subject"};
    l.clip = {"Filename", "File name"};
    l.onset = {"OnsetFrame", "Onset Frame", "Onset"};
    l.apex = {"ApexFrame", "Apex Frame", "Apex"};
    l.offset = {"OffsetFrame", "Offset Frame", "Offset"};
    l.au = {"Action Units", "Action Unit", "AU", "AUs"};
    l.emotion = {"Estimated Emotion", "Emotion"};
    l.subject_id = [](const std::string& s, std::vector<std::string>& p) {
      return padded_subject(s, "sub", 2, p);
    };
    read_sheet(ctx, l);
  };
  return a;
}

}  // namespace merx::ds
