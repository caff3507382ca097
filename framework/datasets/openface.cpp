// OpenFace CSV importer (merx/datasets/openface.h).
#include "merx/datasets/openface.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>

#include "merx/datasets/table.h"
#include "merx/errors.h"

namespace merx {
namespace {

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

// "AU04_r" -> 4; -1 for any other name.
int au_column(const std::string& name) {
  if (name.size() < 5 || (name[0] != 'A' && name[0] != 'a') || (name[1] != 'U' && name[1] != 'u')) return -1;
  const std::string tail = name.substr(name.size() - 2);
  if (tail != "_r" && tail != "_R") return -1;
  const std::string digits = name.substr(2, name.size() - 4);
  if (digits.empty() || digits.size() > 2 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::atoi(digits.c_str());
}

}  // namespace

OpenFaceTable read_openface_csv(const std::filesystem::path& file) {
  const Table t = read_table(file);
  OpenFaceTable out;
  out.file = file;
  std::optional<size_t> frame_col, success_col;
  std::map<int, size_t> au_cols;
  for (size_t c = 0; c < t.rows.front().size(); ++c) {
    const std::string name = trim(t.rows.front()[c]);  // OpenFace 2.0 writes ", AU01_r": leading spaces
    if (name == "frame") frame_col = c;
    if (name == "success") success_col = c;
    if (const int au = au_column(name); au > 0 && !au_cols.count(au)) au_cols[au] = c;
  }
  if (!frame_col || !success_col)
    throw UserError(file.string() + ": OpenFace CSV without a `" +
                    std::string(frame_col ? "success" : "frame") + "` column in its header (line " +
                    std::to_string(t.row_numbers.front()) + ")");
  std::set<int64_t> seen;
  for (size_t r = 1; r < t.rows.size(); ++r) {
    const std::optional<int64_t> frame = to_integer(trim(t.cell(r, *frame_col)));
    const std::optional<double> success = to_number(trim(t.cell(r, *success_col)));
    if (!frame || !success)
      throw UserError(t.where(r) + ": `frame` and `success` must be numbers, got '" + t.cell(r, *frame_col) +
                      "' and '" + t.cell(r, *success_col) + "'");
    if (!seen.insert(*frame).second)
      throw UserError(t.where(r) + ": frame " + std::to_string(*frame) + " appears twice");
    out.frame.push_back(*frame);
    out.success.push_back(*success == 1.0);
    out.row_numbers.push_back(t.row_numbers[r]);
    for (const auto& [au, c] : au_cols) {
      const std::optional<double> v = to_number(trim(t.cell(r, c)));
      // An unreadable intensity only matters if this row is chosen: NaN marks it.
      out.intensity[au].push_back(v ? *v : std::numeric_limits<double>::quiet_NaN());
    }
  }
  return out;
}

OpenFaceAus openface_apex_aus(const OpenFaceTable& table, int64_t apex_position,
                              const std::vector<int>& au_ids, int64_t window) {
  for (int au : au_ids)
    if (!table.intensity.count(au)) {
      char name[16];
      std::snprintf(name, sizeof name, "AU%02d_r", au);
      throw UserError(table.file.string() + ": OpenFace CSV without the column " + name +
                      " (au_gan reads the 12-AU cross set 1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17)");
    }
  OpenFaceAus out;
  std::optional<size_t> best;
  int64_t best_gap = window + 1;
  for (size_t r = 0; r < table.frame.size(); ++r) {
    if (!table.success[r]) continue;
    const int64_t gap = std::llabs(table.frame[r] - apex_position);
    // Nearest first; on a tie the earlier frame.
    if (gap < best_gap || (gap == best_gap && best && table.frame[r] < table.frame[*best])) {
      best = r;
      best_gap = gap;
    }
  }
  if (!best) {
    const bool present =
        std::find(table.frame.begin(), table.frame.end(), apex_position) != table.frame.end();
    out.reason = (present ? "apex row has success = 0" : "no row for the apex frame") +
                 std::string(" and no row with success = 1 within ") + std::to_string(window) + " frames";
    return out;
  }
  std::vector<float> v;
  for (int au : au_ids) {
    double x = table.intensity.at(au)[*best];
    if (std::isnan(x)) {
      out.reason = "unreadable AU" + std::to_string(au) + " intensity on line " +
                   std::to_string(table.row_numbers[*best]);
      return out;
    }
    if (x < 0) {
      ++out.negatives_clamped;
      x = 0;
    }
    v.push_back(static_cast<float>(std::min(x, 5.0)));
  }
  out.values = std::move(v);
  out.frame_used = table.frame[*best];
  out.exact = best_gap == 0;
  return out;
}

std::filesystem::path openface_file(const std::filesystem::path& folder, const SampleRecord& sample) {
  return folder / sample.subject / (sample.clip + ".csv");
}

OpenFaceAus openface_sample_aus(const std::filesystem::path& folder, const SampleRecord& sample,
                                const std::vector<int>& au_ids, OpenFaceStats* stats) {
  OpenFaceAus out;
  const std::filesystem::path file = openface_file(folder, sample);
  if (!sample.apex_index)
    out.reason = "the clip has no apex";
  else if (!std::filesystem::is_regular_file(file))
    out.reason = "no OpenFace file";
  else
    out = openface_apex_aus(read_openface_csv(file), static_cast<int64_t>(*sample.apex_index) + 1, au_ids);
  if (stats) {
    ++stats->clips;
    stats->negatives_clamped += out.negatives_clamped;
    if (!out.values) {
      ++stats->missing;
      ++stats->missing_reasons[out.reason];
    } else {
      ++(out.exact ? stats->exact : stats->nearby);
    }
  }
  return out;
}

}  // namespace merx
