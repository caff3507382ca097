// Helpers shared by the adapters: reading the annotation file, subject ids, clip-folder templates.
#include "datasets/pipeline.h"

#include <algorithm>
#include <cctype>

#include "merx/errors.h"

namespace merx::ds {

Table read_annotations(const AdapterContext& ctx, const std::string& default_sheet) {
  std::string sheet = ctx.option_string("sheet", "");
  if (sheet.empty() && !default_sheet.empty()) {
    const auto names = sheet_names(ctx.annotations);
    if (std::find(names.begin(), names.end(), default_sheet) != names.end()) sheet = default_sheet;
  }
  return read_table(ctx.annotations, sheet);
}

void read_sheet(AdapterContext& ctx, const SheetLayout& layout) {
  const Table t = read_annotations(ctx, layout.default_sheet);
  std::vector<std::vector<std::string>> required;
  for (const auto* c : {&layout.subject, &layout.clip, &layout.onset, &layout.apex, &layout.offset,
                        &layout.au, &layout.emotion})
    if (!c->empty()) required.push_back(*c);
  const HeaderMatch h = find_header(t, required);
  auto col = [&](const std::vector<std::string>& c) -> std::optional<size_t> {
    if (c.empty()) return std::nullopt;
    return h.at(c.front());
  };
  const auto subject = col(layout.subject), clip = col(layout.clip), onset = col(layout.onset),
             apex = col(layout.apex), offset = col(layout.offset), au = col(layout.au),
             emotion = col(layout.emotion);
  auto get = [&](size_t i, const std::optional<size_t>& c) { return c ? t.cell(i, *c) : std::string(); };
  for (size_t i = h.row_index + 1; i < t.rows.size(); ++i) {
    ClipRow r;
    const std::string subject_cell = get(i, subject), clip_cell = get(i, clip);
    if (subject_cell.empty() && clip_cell.empty()) continue;
    r.where = t.where(i);
    r.file = ctx.annotations.string();
    r.row = static_cast<int>(t.row_numbers[i]);
    if (subject_cell.empty()) r.problems.push_back("subject cell is empty");
    if (clip_cell.empty() && clip) r.problems.push_back("clip name cell is empty");
    r.subject = layout.subject_id ? layout.subject_id(subject_cell, r.problems) : subject_cell;
    r.clip = clip_text(clip_cell);
    r.onset = get(i, onset);
    r.apex = get(i, apex);
    r.offset = get(i, offset);
    r.au = get(i, au);
    r.emotion = get(i, emotion);
    r.folder_template = ctx.frames_template();
    r.vars = {{"subject", r.subject}, {"clip", r.clip}, {"emotion", r.emotion}};
    if (layout.finish) layout.finish(r, t, i, h);
    ctx.rows.push_back(std::move(r));
  }
}

std::string padded_subject(const std::string& text, const std::string& prefix, int width,
                           std::vector<std::string>& problems) {
  std::string t = text;
  auto lower = t;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string p = prefix;
  for (char& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!p.empty() && lower.rfind(p, 0) == 0) t = t.substr(prefix.size());
  auto n = to_integer(t);
  if (!n || *n < 0) {
    problems.push_back("subject '" + text + "' is not a subject number");
    return text;
  }
  std::string digits = std::to_string(*n);
  if (static_cast<int>(digits.size()) < width)
    digits.insert(0, static_cast<size_t>(width) - digits.size(), '0');
  return prefix + digits;
}

std::string clip_text(const std::string& text) {
  auto n = to_integer(text);
  if (n && text.find('.') != std::string::npos) return std::to_string(*n);
  return text;
}

std::string expand_template(const std::string& tmpl, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl[i] == '{') {
      size_t j = tmpl.find('}', i);
      if (j == std::string::npos) throw UserError("frames template '" + tmpl + "': unclosed '{'");
      const std::string name = tmpl.substr(i + 1, j - i - 1);
      auto it = vars.find(name);
      if (it == vars.end()) {
        std::string names;
        for (const auto& [k, v] : vars) names += (names.empty() ? "{" : ", {") + k + "}";
        throw UserError("frames template '" + tmpl + "': unknown placeholder {" + name +
                        "} (this adapter has " + names + ")");
      }
      out += it->second;
      i = j + 1;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      std::string x = a.substr(i, i2 - i), y = b.substr(j, j2 - j);
      x.erase(0, std::min(x.find_first_not_of('0'), x.size()));
      y.erase(0, std::min(y.find_first_not_of('0'), y.size()));
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = i2;
      j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::vector<TemplateMatch> walk_template(const std::filesystem::path& root, const std::string& tmpl) {
  std::vector<std::string> segs;
  size_t start = 0;
  while (start <= tmpl.size()) {
    size_t k = tmpl.find('/', start);
    if (k == std::string::npos) k = tmpl.size();
    if (k > start) segs.push_back(tmpl.substr(start, k - start));
    start = k + 1;
  }
  std::vector<TemplateMatch> level = {{root, {}}};
  for (const auto& seg : segs) {
    const size_t open = seg.find('{');
    std::vector<TemplateMatch> next;
    if (open == std::string::npos) {
      for (const auto& m : level)
        if (std::filesystem::is_directory(m.folder / seg)) next.push_back({m.folder / seg, m.vars});
    } else {
      const size_t close = seg.find('}', open);
      if (close == std::string::npos) throw UserError("frames template '" + tmpl + "': unclosed '{'");
      const std::string prefix = seg.substr(0, open), suffix = seg.substr(close + 1);
      const std::string name = seg.substr(open + 1, close - open - 1);
      if (suffix.find('{') != std::string::npos)
        throw UserError("frames template '" + tmpl + "': one placeholder per folder level");
      for (const auto& m : level) {
        std::vector<std::string> names;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(m.folder, ec)) {
          if (!e.is_directory()) continue;
          const std::string n = e.path().filename().string();
          if (n.empty() || n[0] == '.') continue;
          if (n.size() <= prefix.size() + suffix.size()) continue;
          if (n.compare(0, prefix.size(), prefix) != 0) continue;
          if (n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
          names.push_back(n);
        }
        std::sort(names.begin(), names.end(), natural_less);
        for (const auto& n : names) {
          auto vars = m.vars;
          const std::string value = n.substr(prefix.size(), n.size() - prefix.size() - suffix.size());
          auto it = vars.find(name);
          if (it != vars.end() && it->second != value) continue;  // repeated placeholder must agree
          vars[name] = value;
          next.push_back({m.folder / n, vars});
        }
      }
    }
    level = std::move(next);
  }
  return level;
}

}  // namespace merx::ds
