// Internal interface between load_dataset() (load.cpp) and the adapters (datasets/<name>/<name>.cpp).
// An adapter only turns its corpus's annotation file (or folders) into ClipRows: raw texts, the clip's
// frame folder and where the row came from. Errata, label mapping, membership, frame listing and all
// validation are common (load.cpp), so every corpus is checked the same way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "merx/datasets/adapters.h"
#include "merx/datasets/load.h"
#include "merx/datasets/table.h"

namespace merx::ds {

/// One clip as the adapter read it. Frame numbers and the AU string stay text until errata are applied.
struct ClipRow {
  std::string subject;              // local id as the frame folders spell it ("sub01", "006", "s1", "spNO.1")
  std::string clip;                 // clip name ("EP02_01f")
  std::string emotion;              // native label as written
  std::string onset, apex, offset;  // cell texts ("" when empty / no such column)
  std::string au;                   // AU cell text
  std::string folder_template;      // clip folder relative to the root, with {placeholders} still in it
  std::map<std::string, std::string> vars;  // values for the template ({subject}, {clip}, {emotion}, ...)
  bool long_video = false;  // the folder holds a longer recording: take the files numbered onset..offset
  bool range_from_frames = false;     // onset/offset = first/last frame number of the folder (SMIC, no sheet)
  std::string where;                  // "FILE, sheet 'S', row N" or the folder
  std::string file;                   // annotation file ("" for folder-only clips)
  int row = 0;                        // 1-based row number in file
  std::vector<std::string> problems;  // problems the adapter found in this row (bad subject id, ...)
  std::optional<bool> codes_aus;  // overrides AdapterInfo::codes_aus (manifest: the AU column is optional)
  std::filesystem::path input_image;  // precomputed input (flow_images): no frames, no onset..offset
};

struct AdapterContext {
  const AdapterInfo& adapter;
  const DatasetSource& source;
  std::string dataset;                // dataset name
  std::filesystem::path annotations;  // resolved file, or empty (SMIC without a sheet)
  nlohmann::json options;             // validated options
  std::vector<ClipRow> rows;          // output

  std::string option_string(const std::string& key, const std::string& fallback) const;
  /// The clip-folder template: options.frames or the adapter's default.
  std::string frames_template() const;
};

// ---- helpers for adapters ----

/// Reads the annotation file (sheet = options.sheet, else `default_sheet` when the file has it, else the
/// first sheet).
Table read_annotations(const AdapterContext& ctx, const std::string& default_sheet = "");

/// A sheet laid out as one clip per row below a header row. Each column lists its accepted header
/// spellings (first = canonical); an empty list = the corpus has no such column.
struct SheetLayout {
  std::string default_sheet;
  std::vector<std::string> subject, clip, onset, apex, offset, au, emotion;
  /// Local subject id from the cell (e.g. padded_subject); may add problems.
  std::function<std::string(const std::string&, std::vector<std::string>&)> subject_id;
  /// Extra template variables / flags for a row (optional).
  std::function<void(ClipRow&, const Table&, size_t row_index, const HeaderMatch&)> finish;
};
/// Reads every data row below the header (rows whose subject and clip cells are both empty are skipped)
/// into ctx.rows, with vars {subject}, {clip}, {emotion} and the folder template ctx.frames_template().
void read_sheet(AdapterContext& ctx, const SheetLayout& layout);

/// "sub" + two-digit subject number from "1", "01", "1.0", "sub1", "sub01" (CASME, CASME II); the text
/// unchanged (and a problem) when it holds no number.
std::string padded_subject(const std::string& text, const std::string& prefix, int width,
                           std::vector<std::string>& problems);

/// Clip name from a cell: trimmed; "123.0" style numbers written back as integers.
std::string clip_text(const std::string& text);

/// Expands {name} placeholders of `tmpl` from `vars`. Unknown placeholders -> UserError naming the option.
std::string expand_template(const std::string& tmpl, const std::map<std::string, std::string>& vars);

/// A folder matched by walking a template: the path and the values the placeholders took.
struct TemplateMatch {
  std::filesystem::path folder;
  std::map<std::string, std::string> vars;
};
/// Every folder under `root` that matches `tmpl` (segments separated by '/'; a segment is literal text
/// around at most one {placeholder}, which matches one or more characters). Sorted by path (numbers in
/// names compared numerically).
std::vector<TemplateMatch> walk_template(const std::filesystem::path& root, const std::string& tmpl);

/// Natural-order comparison ("s2" < "s10").
bool natural_less(const std::string& a, const std::string& b);

/// The embedded errata.json text of `adapter` ("" when none). Generated by embed_errata.cmake.
const std::string& builtin_errata_text(const std::string& adapter);

/// SMIC-HS/VIS/NIR reading (smic_hs/smic.cpp): folders, or the optional sheet.
void read_smic(AdapterContext& ctx);

// ---- the adapters (one folder each) ----
AdapterInfo casme_adapter();
AdapterInfo casme2_adapter();
AdapterInfo casme_squared_adapter();
AdapterInfo casme3a_adapter();
AdapterInfo casme3c_adapter();
AdapterInfo samm_adapter();
AdapterInfo smic_hs_adapter();
AdapterInfo smic_vis_adapter();
AdapterInfo smic_nir_adapter();
AdapterInfo mmew_adapter();
AdapterInfo fourdme_adapter();
AdapterInfo manifest_adapter();
AdapterInfo flow_images_adapter();

/// Why `file` cannot be a flow image (flow_images/flow_images.cpp): "" when it is a whole 8-bit PNG with
/// 3 colour channels (PNG colour type 2), else the problem and what was expected. Reads the signature, the
/// IHDR chunk and the file's end (frame_file_problem); decodes nothing.
std::string flow_image_problem(const std::filesystem::path& file);

}  // namespace merx::ds
