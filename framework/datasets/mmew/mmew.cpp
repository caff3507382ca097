// MMEW (Ben et al. 2021): 90 fps [recalled], colour, 1920x1080. Sheet MMEW_Micro_Exp.xlsx: Subject,
// Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion, remarks. Frames
// Micro_Expression/{emotion}/{Filename}/{N}.jpg (MEB's layout; the official web page shows
// {subject}/{emotion}/{Filename}/{N}.jpg: set `frames` to "{subject}/{emotion_folder}/{clip}"). The sheet
// says "others" where the folder is "repression": {emotion_folder} is the emotion, or "repression" for
// "others" when no "others" folder exists.
#include "datasets/pipeline.h"

namespace merx::ds {

AdapterInfo mmew_adapter() {
  AdapterInfo a;
  a.name = "mmew";
  a.corpus = "MMEW";
  a.annotations = "required";
  a.description = "root = Micro_Expression: {emotion}/{clip}/{N}.jpg + MMEW_Micro_Exp.xlsx";
  a.annotation_names = {"MMEW_Micro_Exp.xlsx"};
  a.frames = "{emotion_folder}/{clip}";
  a.fps = 90;
  a.read = [](AdapterContext& ctx) {
    const bool others_folder = std::filesystem::is_directory(ctx.source.root / "others");
    SheetLayout l;
    l.subject = {"Subject"};
    l.clip = {"Filename"};
    l.onset = {"OnsetFrame", "Onset Frame", "Onset"};
    l.apex = {"ApexFrame", "Apex Frame", "Apex"};
    l.offset = {"OffsetFrame", "Offset Frame", "Offset"};
    l.au = {"Action Units", "AU"};
    l.emotion = {"Estimated Emotion", "Emotion"};
    l.finish = [others_folder](ClipRow& r, const Table&, size_t, const HeaderMatch&) {
      r.vars["emotion_folder"] = (r.emotion == "others" && !others_folder) ? "repression" : r.emotion;
    };
    read_sheet(ctx, l);
  };
  return a;
}

}  // namespace merx::ds
