// Writers of the corpus files other than frames (write.cpp) and the corpus paths they share with the
// renderer (synth.cpp).
#pragma once

#include <string>
#include <vector>

#include "merx/synth/synth.h"
#include "synth/internal.h"

namespace merx::synth::detail {

/// Bumped when the generated files change for the same (preset, seed, sources); recorded in synth.json.
inline constexpr int kFormatVersion = 1;

using DomainSummaryRow = merx::synth::DomainSummary;

/// Paths relative to OUT: the domain folder, the adapter's root and its annotation file ("" for SMIC).
struct DomainPaths {
  std::string folder, root, annotations;
};
DomainPaths domain_paths(const DomainSpec& domain);

/// The clip's frame folder relative to OUT, and a frame file name as the corpus spells it.
fs::path clip_folder(const Plan& plan, const ClipPlan& clip);
std::string frame_name(const Plan& plan, const ClipPlan& clip, int64_t number);
/// "<dataset>/<subject>/<clip>", the key the adapter gives the clip.
std::string dataset_key(const Plan& plan, const ClipPlan& clip);

void write_sheets(const fs::path& out, const Plan& plan);
/// iods: per subject (Plan::subjects order), the rendered inter-ocular distance in pixels.
void write_ground_truth(const fs::path& out, const Plan& plan, const std::vector<BaseFace>& faces,
                        const std::vector<double>& iods);
void write_openface(const fs::path& out, const Plan& plan, const ClipPlan& clip);
void write_index(const fs::path& out, const Plan& plan, const Sources& sources,
                 const std::vector<DomainSummaryRow>& counts);

}  // namespace merx::synth::detail
