// CAS(ME)^2 (Qu et al. 2018), micro-expressions of the long videos: 30 fps colour, 22 subjects, 87 videos.
// Column names and folder layout are UNKNOWN (fact-sheet GAP): both are options. Defaults (unverified):
// columns Subject, Filename, Onset, Apex, Offset, AU, Emotion (option `columns` renames any of them:
// {"onset": "OnsetFrame", ...}); a `type_column` + `type_value` pair keeps only the micro-expression rows
// (e.g. "Expression type" = "micro-expression"); frames "{subject}/{clip}" holding the whole long video (the
// clip is the files numbered onset..offset).
#include <cctype>

#include "datasets/pipeline.h"
#include "merx/errors.h"

namespace merx::ds {

AdapterInfo casme_squared_adapter() {
  AdapterInfo a;
  a.name = "casme_squared";
  a.corpus = "CAS(ME)^2 (micro part)";
  a.annotations = "required";
  a.description = "configurable columns and `frames` template + the CAS(ME)^2 sheet (layout unverified)";
  a.frames = "{subject}/{clip}";
  a.layout_verified = false;
  a.fps = 30;
  a.options = {
      {"columns", "object", "{}", "header names: keys subject, clip, onset, apex, offset, au, emotion"},
      {"type_column", "string", "", "column telling micro from macro expressions"},
      {"type_value", "string", "", "value of type_column on micro-expression rows (case-insensitive)"},
  };
  a.read = [](AdapterContext& ctx) {
    std::map<std::string, std::string> names = {
        {"subject", "Subject"}, {"clip", "Filename"}, {"onset", "Onset"},    {"apex", "Apex"},
        {"offset", "Offset"},   {"au", "AU"},         {"emotion", "Emotion"}};
    if (ctx.options.contains("columns"))
      for (auto it = ctx.options["columns"].begin(); it != ctx.options["columns"].end(); ++it) {
        if (!names.count(it.key()) || !it.value().is_string())
          throw UserError(
              "dataset '" + ctx.dataset + "' options.columns." + it.key() +
              ": expected one of subject, clip, onset, apex, offset, au, emotion with a header name");
        names[it.key()] = it.value().get<std::string>();
      }
    const std::string type_column = ctx.option_string("type_column", "");
    const std::string type_value = ctx.option_string("type_value", "");
    if (type_column.empty() != type_value.empty())
      throw UserError("dataset '" + ctx.dataset + "': options type_column and type_value go together");
    SheetLayout l;
    l.subject = {names["subject"]};
    l.clip = {names["clip"]};
    l.onset = {names["onset"]};
    l.apex = {names["apex"]};
    l.offset = {names["offset"]};
    l.au = {names["au"]};
    l.emotion = {names["emotion"]};
    l.finish = [&](ClipRow& r, const Table& t, size_t i, const HeaderMatch& h) {
      r.long_video = true;
      if (type_column.empty()) return;
      auto c = h.find({type_column});
      if (!c) throw UserError(t.where() + ": column '" + type_column + "' (option type_column) not found");
      r.vars["__skip"] = header_key(t.cell(i, *c)) == header_key(type_value) ? "" : "1";
    };
    read_sheet(ctx, l);
    std::vector<ClipRow> rows;
    for (auto& r : ctx.rows) {
      const bool skip = !r.vars["__skip"].empty();
      r.vars.erase("__skip");
      if (!skip) rows.push_back(std::move(r));
    }
    ctx.rows = std::move(rows);
  };
  return a;
}

}  // namespace merx::ds
