// CASME (Yan et al. 2013): 60 fps, colour, two camera set-ups (640x480 and 1280x720). Sheet (MEB's local
// name casme.xlsx, 189 rows): Subject, Filename, (blank), OnsetF, ApexF1, ApexF2, OffsetF, (blank), AU,
// Emotion; subject an integer -> folder sub{SS}. Frames CASME_raw_selected/sub{SS}/{clip}/{clip}-{N}.jpg
// (N unpadded in the first set-up, 3-digit padded in the second; the frame number is read from the name,
// so both work). ApexF2 is not used.
#include "datasets/pipeline.h"

namespace merx::ds {

AdapterInfo casme_adapter() {
  AdapterInfo a;
  a.name = "casme";
  a.corpus = "CASME";
  a.annotations = "required";
  a.description =
      "root = CASME_raw_selected (or Cropped): sub{SS}/{clip}/{clip}-{N}.jpg + the CASME coding sheet "
      "(.xlsx)";
  a.annotation_names = {"casme.xlsx", "CASME-coding.xlsx"};
  a.frames = "{subject}/{clip}";
  a.fps = 60;
  a.read = [](AdapterContext& ctx) {
    SheetLayout l;
    l.subject = {"Subject"};
    l.clip = {"Filename", "File name"};
    l.onset = {"OnsetF", "OnsetFrame", "Onset"};
    l.apex = {"ApexF1", "ApexF", "ApexFrame", "Apex"};
    l.offset = {"OffsetF", "OffsetFrame", "Offset"};
    l.au = {"AU", "Action Units"};
    l.emotion = {"Emotion", "Estimated Emotion"};
    l.subject_id = [](const std::string& s, std::vector<std::string>& p) {
      return padded_subject(s, "sub", 2, p);
    };
    read_sheet(ctx, l);
  };
  return a;
}

}  // namespace merx::ds
