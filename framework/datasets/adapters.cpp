#include "merx/datasets/adapters.h"

#include <algorithm>

namespace merx {

const std::vector<AdapterInfo>& dataset_adapters() {
  // Annotation needs follow shared/notes/datasets.md: SMIC has no official sheet (labels from folders).
  static const std::vector<AdapterInfo> adapters = [] {
    std::vector<AdapterInfo> a = {
        {"casme", "CASME", "required", "sub{SS}/{clip}/{clip}-{N}.jpg + the CASME coding sheet (.xlsx)"},
        {"casme2", "CASME II", "required", "sub{SS}/{clip}/img{N}.jpg + CASME2-coding-*.xlsx"},
        {"casme_squared", "CAS(ME)^2 (micro part)", "required", "configurable path template + the CAS(ME)^2 sheet (layout unverified)"},
        {"casme3a", "CAS(ME)^3 part A", "required", "{Subject}/{letter}/color/{N}.jpg + cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"},
        {"casme3c", "CAS(ME)^3 part C", "required", "part C frames + its label sheet"},
        {"samm", "SAMM", "required", "{SSS}/{clip}/{SSS}_{N}.jpg + the SAMM coding sheet (.xlsx, preamble rows)"},
        {"smic_hs", "SMIC-HS", "optional", "HS/{subject}/micro/{emotion}/{clip}/image{NNNNNN}.bmp; labels from folders"},
        {"smic_vis", "SMIC-VIS", "optional", "configurable path template (layout unverified); labels from folders"},
        {"smic_nir", "SMIC-NIR", "optional", "configurable path template (layout unverified); labels from folders"},
        {"mmew", "MMEW", "required", "{emotion}/{clip}/{N}.jpg + the MMEW sheet"},
        {"fourdme", "4DME", "required", "configurable path template (frame names unverified) + the 4DME sheet"},
        {"manifest", "any corpus", "required", "a CSV with one row per clip (frame folder, onset, apex, offset, label, subject, optional AUs)"},
    };
    std::sort(a.begin(), a.end(), [](const AdapterInfo& x, const AdapterInfo& y) { return x.name < y.name; });
    return a;
  }();
  return adapters;
}

const AdapterInfo* find_adapter(const std::string& name) {
  for (const auto& a : dataset_adapters())
    if (a.name == name) return &a;
  return nullptr;
}

}  // namespace merx
