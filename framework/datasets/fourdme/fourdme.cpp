// 4DME (Li et al. 2022): greyscale 2D frames (MEB uses "gray_micro"); 60 fps [recalled, low confidence].
// Sheet "4DME_Labelling_Micro_release v1.xlsx": sub_ID, fold_name, Emotion (may be compound, e.g.
// "Surprise+Positive"), Onset, Apex, Offset, AUs ("(k)" marks a static AU: kept, marked uncertain), plus
// per-AU 0/1 columns that merx does not read. Frames gray_micro/{sub_ID}/{fold_name}/: the frame file names
// are UNVERIFIED (fact-sheet GAP): every image file is taken, numbered by its last digit group.
#include "datasets/pipeline.h"

namespace merx::ds {

AdapterInfo fourdme_adapter() {
  AdapterInfo a;
  a.name = "fourdme";
  a.corpus = "4DME";
  a.annotations = "required";
  a.description =
      "root = gray_micro: {sub_ID}/{fold_name}/ (frame names unverified) + 4DME_Labelling_Micro_release "
      "v1.xlsx";
  a.annotation_names = {"4DME_Labelling_Micro_release v1.xlsx"};
  a.frames = "{subject}/{clip}";
  a.layout_verified = false;
  a.fps = 60;
  a.grayscale = true;
  a.read = [](AdapterContext& ctx) {
    SheetLayout l;
    l.subject = {"sub_ID"};
    l.clip = {"fold_name"};
    l.onset = {"Onset"};
    l.apex = {"Apex"};
    l.offset = {"Offset"};
    l.au = {"AUs", "AU"};
    l.emotion = {"Emotion"};
    read_sheet(ctx, l);
  };
  return a;
}

}  // namespace merx::ds
