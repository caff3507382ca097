// Plain-text tables for terminal output (left-aligned columns, two spaces apart).
#pragma once

#include <algorithm>
#include <iosfwd>
#include <ostream>
#include <string>
#include <vector>

namespace merx::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }

  void print(std::ostream& out, const std::string& indent = "") const {
    std::vector<size_t> w(header_.size(), 0);
    auto widen = [&](const std::vector<std::string>& r) {
      for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    };
    widen(header_);
    for (const auto& r : rows_) widen(r);
    auto line = [&](const std::vector<std::string>& r) {
      std::string s;
      for (size_t i = 0; i < w.size(); ++i) {
        const std::string cell = i < r.size() ? r[i] : "";
        s += cell;
        if (i + 1 < w.size()) s += std::string(w[i] - cell.size() + 2, ' ');
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out << indent << s << '\n';
    };
    line(header_);
    std::vector<std::string> rule;
    for (size_t x : w) rule.emplace_back(x, '-');
    line(rule);
    for (const auto& r : rows_) line(r);
  }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace merx::cli
