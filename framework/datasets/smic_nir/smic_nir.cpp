// SMIC-NIR: 25 fps near-infrared (greyscale); 71 clips of 8 subjects. Folder layout UNVERIFIED (fact-sheet
// GAP): assumed to mirror HS ({subject}/micro/{emotion}/{clip}); set option `frames` to the real one.
// Reading: smic_hs/smic.cpp.
#include "datasets/pipeline.h"

namespace merx::ds {

AdapterInfo smic_nir_adapter() {
  AdapterInfo a;
  a.name = "smic_nir";
  a.corpus = "SMIC-NIR";
  a.annotations = "optional";
  a.description =
      "root = SMIC/NIR: configurable `frames` template (default {subject}/micro/{emotion}/{clip}, "
      "layout unverified); labels from folders";
  a.frames = "{subject}/micro/{emotion}/{clip}";
  a.layout_verified = false;
  a.fps = 25;
  a.grayscale = true;
  a.codes_aus = false;
  a.codes_apex = false;
  a.apex_midpoint = true;
  a.read = read_smic;
  return a;
}

}  // namespace merx::ds
