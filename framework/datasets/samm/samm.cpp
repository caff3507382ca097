// SAMM (Davison et al. 2018): 200 fps, greyscale, released frames 960x650. Sheet
// SAMM_Micro_FACS_Codes_v2.xlsx: a notes block precedes the table (the header row is found by its column
// names); columns Subject, Filename, Inducement Code, Onset Frame, Apex Frame, Offset Frame, Duration, Micro,
// Objective Classes, Action Units, Notes, Estimated Emotion. Subject "006" (3 digits; "6" is padded).
// Frames SAMM/{SSS}/{clip}/{SSS}_{NNNNN}.jpg (frame number = last digit group). Emotions capitalised
// (Anger ... Other). Errata: errata.json beside this file.
#include "datasets/pipeline.h"

namespace merx::ds {

AdapterInfo samm_adapter() {
  AdapterInfo a;
  a.name = "samm";
  a.corpus = "SAMM";
  a.annotations = "required";
  a.description = "root = SAMM: {SSS}/{clip}/{SSS}_{N}.jpg + SAMM_Micro_FACS_Codes_v2.xlsx (preamble rows)";
  a.annotation_names = {"SAMM_Micro_FACS_Codes_v2.xlsx"};
  a.frames = "{subject}/{clip}";
  a.fps = 200;
  a.grayscale = true;
  a.read = [](AdapterContext& ctx) {
    SheetLayout l;
    l.subject = {"Subject"};
    l.clip = {"Filename", "File name"};
    l.onset = {"Onset Frame", "OnsetFrame", "Onset"};
    l.apex = {"Apex Frame", "ApexFrame", "Apex"};
    l.offset = {"Offset Frame", "OffsetFrame", "Offset"};
    l.au = {"Action Units", "AU", "AUs"};
    l.emotion = {"Estimated Emotion", "Emotion"};
    l.subject_id = [](const std::string& s, std::vector<std::string>& p) {
      return padded_subject(s, "", 3, p);
    };
    read_sheet(ctx, l);
  };
  return a;
}

}  // namespace merx::ds
