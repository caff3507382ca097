// Plain-text tables for terminal output (left-aligned columns, two spaces apart). Long free-text columns
// (descriptions, docs) can be word-wrapped so that rows stay readable in an 100-column terminal.
#pragma once

#include <algorithm>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace merx::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  /// Word-wraps column `col` at `width` characters (a longer word is broken after its last '/' that fits,
  /// else cut); continuation lines leave the other columns blank.
  void wrap(size_t col, size_t width) { wrap_[col] = std::max<size_t>(width, 8); }

  void print(std::ostream& out, const std::string& indent = "") const {
    std::vector<std::vector<std::vector<std::string>>> cells;  // row -> column -> physical lines
    for (const auto* r : all_rows()) {
      std::vector<std::vector<std::string>> row;
      for (size_t i = 0; i < header_.size(); ++i) {
        const std::string text = i < r->size() ? (*r)[i] : "";
        const auto w = wrap_.find(i);
        row.push_back(w == wrap_.end() || r == &header_ ? std::vector<std::string>{text} : wrapped(text, w->second));
      }
      cells.push_back(std::move(row));
    }
    std::vector<size_t> w(header_.size(), 0);
    for (const auto& row : cells)
      for (size_t i = 0; i < row.size(); ++i)
        for (const auto& l : row[i]) w[i] = std::max(w[i], l.size());
    auto line = [&](const std::vector<std::string>& r) {
      std::string s;
      for (size_t i = 0; i < w.size(); ++i) {
        const std::string& cell = r[i];
        s += cell;
        if (i + 1 < w.size()) s += std::string(w[i] - cell.size() + 2, ' ');
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out << indent << s << '\n';
    };
    auto emit = [&](const std::vector<std::vector<std::string>>& row) {
      size_t height = 1;
      for (const auto& c : row) height = std::max(height, c.size());
      for (size_t k = 0; k < height; ++k) {
        std::vector<std::string> physical;
        for (const auto& c : row) physical.push_back(k < c.size() ? c[k] : "");
        line(physical);
      }
    };
    emit(cells[0]);
    std::vector<std::string> rule;
    for (size_t x : w) rule.emplace_back(x, '-');
    line(rule);
    for (size_t r = 1; r < cells.size(); ++r) emit(cells[r]);
  }

 private:
  std::vector<const std::vector<std::string>*> all_rows() const {
    std::vector<const std::vector<std::string>*> out{&header_};
    for (const auto& r : rows_) out.push_back(&r);
    return out;
  }

  static std::vector<std::string> wrapped(const std::string& text, size_t width) {
    std::vector<std::string> lines;
    std::string current;
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t end = std::min(text.find(' ', pos), text.size());
      std::string word = text.substr(pos, end - pos);
      pos = end + 1;
      while (word.size() > width) {  // a path or template longer than the column: break after a '/'
        if (!current.empty()) lines.push_back(std::move(current)), current.clear();
        const size_t slash = word.find_last_of('/', width - 1);
        const size_t cut = slash != std::string::npos && slash > 0 ? slash + 1 : width;
        lines.push_back(word.substr(0, cut));
        word.erase(0, cut);
      }
      if (word.empty()) continue;
      if (!current.empty() && current.size() + 1 + word.size() > width) lines.push_back(std::move(current)), current.clear();
      current += (current.empty() ? "" : " ") + word;
    }
    if (!current.empty() || lines.empty()) lines.push_back(current);
    return lines;
  }

  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::map<size_t, size_t> wrap_;
};

}  // namespace merx::cli
