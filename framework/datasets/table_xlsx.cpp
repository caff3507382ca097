// .xlsx reading with libzip (the package) + pugixml (its XML parts), and libixion for formula cells that
// have no cached value.
//
// Why not liborcus (Debian's 0.17, measured here): it reads workbooks from Excel and libxlsxwriter, but
// returns an empty sheet for openpyxl/pandas files (absolute relationship targets such as
// "/xl/worksheets/sheet1.xml") and drops their inline strings (t="inlineStr"); working around that would
// mean rewriting the package before handing it over. Reading the few parts an annotation sheet needs
// (workbook, relationships, shared strings, one worksheet) with libzip + pugixml is short, handles every
// writer the same way, and is fast. Formulas: Excel and libxlsxwriter store each formula's value, openpyxl
// stores none; those few are evaluated by libixion (LibreOffice's formula engine, which liborcus uses too).
#include <zip.h>

#include <cstring>
#include <fstream>
#include <ixion/cell_access.hpp>
#include <ixion/document.hpp>
#include <ixion/types.hpp>
#include <memory>
#include <pugixml.hpp>

#include "datasets/table_readers.h"
#include "merx/errors.h"

namespace merx::table_detail {

namespace {

constexpr zip_uint64_t kMaxPartBytes = 512ull << 20;  // refuse zip bombs, not annotation sheets

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

bool starts_with_ole_magic(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char m[8] = {};
  in.read(m, 8);
  return in.gcount() == 8 && std::memcmp(m, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) == 0;
}

/// The open package: reads parts by name (case-insensitively, as Office does).
class Package {
 public:
  explicit Package(const std::filesystem::path& file) : file_(file) {
    int err = 0;
    zip_.reset(zip_open(file.c_str(), ZIP_RDONLY, &err));
    if (!zip_) {
      if (starts_with_ole_magic(file))
        throw UserError(
            file.string() +
            " is an Excel 97-2003 (.xls) workbook despite its name; open it in Excel or LibreOffice "
            "and save it as .xlsx (Excel Workbook)");
      zip_error_t ze;
      zip_error_init_with_code(&ze, err);
      const std::string why = zip_error_strerror(&ze);
      zip_error_fini(&ze);
      throw UserError(file.string() + " is not a readable .xlsx workbook (not a valid zip package: " + why +
                      ")");
    }
  }

  bool has(const std::string& name) const {
    return zip_name_locate(zip_.get(), name.c_str(), ZIP_FL_NOCASE) >= 0;
  }

  /// The part's bytes; throws UserError naming the file and part when missing or unreadable.
  std::string read(const std::string& name) const {
    const zip_int64_t idx = zip_name_locate(zip_.get(), name.c_str(), ZIP_FL_NOCASE);
    if (idx < 0)
      throw UserError(file_.string() + " is not a valid .xlsx workbook: part '" + name + "' is missing");
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_.get(), static_cast<zip_uint64_t>(idx), 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_SIZE))
      throw corrupt(name);
    if (st.size > kMaxPartBytes)
      throw UserError(file_.string() + ": part '" + name +
                      "' is larger than 512 MiB; not an annotation sheet");
    std::unique_ptr<zip_file_t, ZipFileCloser> f(
        zip_fopen_index(zip_.get(), static_cast<zip_uint64_t>(idx), 0));
    if (!f) throw corrupt(name);
    std::string data(static_cast<size_t>(st.size), '\0');
    zip_uint64_t got = 0;
    while (got < st.size) {
      const zip_int64_t n = zip_fread(f.get(), data.data() + got, st.size - got);
      if (n <= 0) throw corrupt(name);
      got += static_cast<zip_uint64_t>(n);
    }
    return data;
  }

  /// Parses a part as XML; throws UserError on malformed XML.
  pugi::xml_document xml(const std::string& name) const {
    const std::string data = read(name);
    pugi::xml_document doc;
    // parse_ws_pcdata_single keeps <t xml:space="preserve"> </t> (a rich-text run of just a space).
    const auto r =
        doc.load_buffer(data.data(), data.size(), pugi::parse_default | pugi::parse_ws_pcdata_single);
    if (!r)
      throw UserError(file_.string() + " is not a valid .xlsx workbook: part '" + name +
                      "' is not well-formed XML (" + r.description() + " at byte " +
                      std::to_string(r.offset) + ")");
    return doc;
  }

 private:
  UserError corrupt(const std::string& name) const {
    return UserError(file_.string() + " is not a readable .xlsx workbook: part '" + name +
                     "' cannot be extracted (" + zip_strerror(zip_.get()) + ")");
  }
  std::filesystem::path file_;
  std::unique_ptr<zip_t, ZipCloser> zip_;
};

// Element names are compared without their namespace prefix: writers may use "x:row" as well as "row".
const char* local_name(const char* n) {
  const char* p = std::strrchr(n, ':');
  return p ? p + 1 : n;
}
bool is(const pugi::xml_node& n, const char* name) {
  return std::strcmp(local_name(n.name()), name) == 0;
}

pugi::xml_node child(const pugi::xml_node& n, const char* name) {
  for (auto c : n.children())
    if (is(c, name)) return c;
  return {};
}

// Attribute r:id whatever the prefix of the relationships namespace.
const char* rel_id(const pugi::xml_node& n) {
  for (auto a : n.attributes()) {
    const char* name = a.name();
    const char* colon = std::strrchr(name, ':');
    if (colon && std::strcmp(colon + 1, "id") == 0) return a.value();
  }
  return "";
}

/// Resolves a relationship target against the folder of the part that owns the .rels: absolute targets
/// ("/xl/worksheets/sheet1.xml", openpyxl) and relative ones ("worksheets/sheet1.xml", Excel), "../" too.
std::string resolve_target(const std::string& owner_part, const std::string& target) {
  std::string path;
  if (!target.empty() && target[0] == '/') {
    path = target.substr(1);
  } else {
    const size_t slash = owner_part.rfind('/');
    path = (slash == std::string::npos ? std::string() : owner_part.substr(0, slash + 1)) + target;
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string seg = path.substr(start, end - start);
    if (seg == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!seg.empty() && seg != ".") {
      parts.push_back(seg);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

std::string rels_part_of(const std::string& part) {
  const size_t slash = part.rfind('/');
  if (slash == std::string::npos) return "_rels/" + part + ".rels";
  return part.substr(0, slash + 1) + "_rels/" + part.substr(slash + 1) + ".rels";
}

struct Relationship {
  std::string id, type, target;  // target resolved to a part name
};

std::vector<Relationship> relationships(const Package& pkg, const std::string& owner_part) {
  std::vector<Relationship> out;
  const std::string rels = rels_part_of(owner_part);
  if (!pkg.has(rels)) return out;
  const auto doc = pkg.xml(rels);
  for (auto r : child(doc, "Relationships").children()) {
    if (!is(r, "Relationship")) continue;
    if (std::strcmp(r.attribute("TargetMode").value(), "External") == 0) continue;
    out.push_back({r.attribute("Id").value(), r.attribute("Type").value(),
                   resolve_target(owner_part, r.attribute("Target").value())});
  }
  return out;
}

bool type_is(const Relationship& r, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return r.type.size() >= n && r.type.compare(r.type.size() - n, n, suffix) == 0;
}

/// Decodes the OOXML escapes "_xHHHH_" (characters XML cannot carry, e.g. _x000D_ for CR) to UTF-8.
std::string decode_xstring(std::string s) {
  if (s.find("_x") == std::string::npos) return s;
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i + 6 < s.size() && s[i + 1] == 'x' && s[i + 6] == '_' &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 3])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 4])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 5]))) {
      const unsigned cp = static_cast<unsigned>(std::stoul(s.substr(i + 2, 4), nullptr, 16));
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
      i += 6;
    } else {
      out += s[i];
    }
  }
  return out;
}

/// Text of a string item (<si> or <is>): its <t>, or its rich-text runs' <t> concatenated; phonetic
/// guides (<rPh>) are not part of the text.
std::string string_item_text(const pugi::xml_node& si) {
  std::string s;
  for (auto c : si.children()) {
    if (is(c, "t")) {
      s += c.child_value();
    } else if (is(c, "r")) {
      for (auto t : c.children())
        if (is(t, "t")) s += t.child_value();
    }
  }
  return decode_xstring(std::move(s));
}

struct SheetRef {
  std::string name, part;
};

struct Workbook {
  std::string part;  // e.g. "xl/workbook.xml"
  std::vector<SheetRef> sheets;
  std::string shared_strings_part;  // "" when none
};

Workbook open_workbook(const Package& pkg, const std::filesystem::path& file) {
  Workbook wb;
  for (const auto& r : relationships(pkg, ""))
    if (type_is(r, "/officeDocument")) wb.part = r.target;
  if (wb.part.empty()) wb.part = "xl/workbook.xml";
  if (!pkg.has(wb.part))
    throw UserError(file.string() + " is not a valid .xlsx workbook (no workbook part '" + wb.part + "')");
  const auto rels = relationships(pkg, wb.part);
  for (const auto& r : rels)
    if (type_is(r, "/sharedStrings")) wb.shared_strings_part = r.target;
  const auto doc = pkg.xml(wb.part);
  const auto sheets = child(child(doc, "workbook"), "sheets");
  for (auto s : sheets.children()) {
    if (!is(s, "sheet")) continue;
    const std::string id = rel_id(s);
    std::string part;
    for (const auto& r : rels)
      if (r.id == id) part = r.target;
    wb.sheets.push_back({s.attribute("name").value(), part});
  }
  if (wb.sheets.empty())
    throw UserError(file.string() + " is not a valid .xlsx workbook (it lists no sheets)");
  return wb;
}

/// "C12" -> (row 11, column 2), 0-based. False when `ref` is not a cell reference.
bool parse_ref(const char* ref, size_t& row, size_t& column) {
  size_t c = 0, r = 0, nl = 0, nd = 0;
  const char* p = ref;
  for (; *p && std::isalpha(static_cast<unsigned char>(*p)); ++p, ++nl)
    c = c * 26 + static_cast<size_t>(std::toupper(static_cast<unsigned char>(*p)) - 'A' + 1);
  for (; *p && std::isdigit(static_cast<unsigned char>(*p)); ++p, ++nd)
    r = r * 10 + static_cast<size_t>(*p - '0');
  if (*p || nl == 0 || nl > 3 || nd == 0 || nd > 7 || r == 0) return false;
  row = r - 1;
  column = c - 1;
  return true;
}

std::string cell_name(size_t row, size_t column) {
  std::string letters;
  for (size_t c = column + 1; c > 0; c = (c - 1) / 26)
    letters.insert(letters.begin(), static_cast<char>('A' + (c - 1) % 26));
  return letters + std::to_string(row + 1);
}

// A cell as stored, before normalisation; kept only while formulas without values may need evaluating.
struct RawCell {
  enum Kind { number, text, boolean, error, formula } kind;
  size_t row, column;
  std::string value;  // number text, string, "1"/"0", error text, or the formula (without '=')
};

std::string evaluation_failure(const std::filesystem::path& file, const std::string& sheet, const RawCell& c,
                               const std::string& why) {
  return file.string() + ", sheet '" + sheet + "', cell " + cell_name(c.row, c.column) +
         ": the formula '=" + c.value +
         "' has no stored value (the file was written by a program that does not calculate, such as "
         "openpyxl) and merx cannot evaluate it (" +
         why + "); open and save the file in Excel or LibreOffice";
}

/// Evaluates the formula cells of `cells` with libixion over the sheet's stored values, writing the results
/// into `b`. Formulas referring to other sheets are not supported (they evaluate to #REF!/#NAME? and the
/// cell is reported).
void evaluate_formulas(const std::vector<RawCell>& cells, TableBuilder& b, const std::filesystem::path& file,
                       const std::string& sheet) {
  ixion::document doc;
  doc.append_sheet(sheet.empty() ? "Sheet1" : sheet);
  const auto pos = [](const RawCell& c) {
    return ixion::abs_address_t(0, static_cast<ixion::row_t>(c.row), static_cast<ixion::col_t>(c.column));
  };
  for (const auto& c : cells) {
    switch (c.kind) {
      case RawCell::number:
        doc.set_numeric_cell(pos(c), std::stod(c.value));
        break;
      case RawCell::text:
        doc.set_string_cell(pos(c), c.value);
        break;
      case RawCell::boolean:
        doc.set_boolean_cell(pos(c), c.value == "1");
        break;
      case RawCell::error:
        break;  // stays empty; a formula using it is unusual in an annotation sheet
      case RawCell::formula:
        try {
          doc.set_formula_cell(pos(c), c.value);
        } catch (const std::exception& e) {
          throw UserError(evaluation_failure(file, sheet, c, e.what()));
        }
        break;
    }
  }
  try {
    doc.calculate(0);
  } catch (const std::exception& e) {
    throw UserError(file.string() + ", sheet '" + sheet +
                    "': evaluating formulas without stored values failed (" + e.what() +
                    "); open and save the file in Excel or LibreOffice");
  }
  for (const auto& c : cells) {
    if (c.kind != RawCell::formula) continue;
    const auto acc = doc.get_cell_access(pos(c));
    switch (acc.get_value_type()) {
      case ixion::cell_value_t::numeric:
        b.set(c.row, c.column, format_number(acc.get_numeric_value()));
        break;
      case ixion::cell_value_t::string:
        b.set(c.row, c.column, acc.get_string_value());
        break;
      case ixion::cell_value_t::boolean:
        b.set(c.row, c.column, acc.get_boolean_value() ? "TRUE" : "FALSE");
        break;
      case ixion::cell_value_t::empty:
        break;
      case ixion::cell_value_t::error:
        throw UserError(evaluation_failure(
            file, sheet, c, "it gives " + std::string(ixion::get_formula_error_name(acc.get_error_value()))));
      default:
        throw UserError(evaluation_failure(file, sheet, c, "unknown result type"));
    }
  }
}

Table read_sheet(const Package& pkg, const std::filesystem::path& file, const Workbook& wb,
                 const SheetRef& sheet) {
  if (sheet.part.empty() || !pkg.has(sheet.part))
    throw UserError(file.string() + " is not a valid .xlsx workbook: sheet '" + sheet.name +
                    "' has no worksheet part");
  std::vector<std::string> sst;
  const auto doc = pkg.xml(sheet.part);
  const auto data = child(child(doc, "worksheet"), "sheetData");
  if (!data) {
    if (!child(doc, "worksheet"))
      throw UserError(file.string() + ": sheet '" + sheet.name + "' is not a worksheet (a chart sheet?)");
    throw UserError("sheet '" + sheet.name + "' of " + file.string() + " is empty (no non-empty cell)");
  }
  bool sst_loaded = false;
  const auto shared = [&](const char* v, size_t row, size_t column) -> const std::string& {
    if (!sst_loaded) {
      sst_loaded = true;
      if (!wb.shared_strings_part.empty() && pkg.has(wb.shared_strings_part)) {
        const auto sdoc = pkg.xml(wb.shared_strings_part);
        for (auto si : child(sdoc, "sst").children())
          if (is(si, "si")) sst.push_back(string_item_text(si));
      }
    }
    char* end = nullptr;
    const unsigned long i = std::strtoul(v, &end, 10);
    if (end == v || *end || i >= sst.size())
      throw UserError(file.string() + ", sheet '" + sheet.name + "', cell " + cell_name(row, column) +
                      ": shared string index '" + v + "' is out of range; the workbook is damaged");
    return sst[i];
  };

  TableBuilder b;
  std::vector<RawCell> raw;  // every value cell, kept only because a formula may need evaluating
  bool needs_eval = false;
  size_t row = 0;
  bool first_row = true;
  for (auto r : data.children()) {
    if (!is(r, "row")) continue;
    const auto ra = r.attribute("r");
    row = ra ? static_cast<size_t>(ra.as_ullong()) - 1 : (first_row ? 0 : row + 1);
    first_row = false;
    size_t column = static_cast<size_t>(-1);
    for (auto c : r.children()) {
      if (!is(c, "c")) continue;
      size_t crow = row, ccol = column + 1;
      if (const auto ref = c.attribute("r")) {
        if (!parse_ref(ref.value(), crow, ccol))
          throw UserError(file.string() + ", sheet '" + sheet.name + "': bad cell reference '" + ref.value() +
                          "'");
      }
      column = ccol;
      const std::string t = c.attribute("t").value();
      const auto v = child(c, "v");
      const auto f = child(c, "f");
      const bool has_value = v && (*v.child_value() != '\0' || t == "str" || t == "s");
      const char* vt = v.child_value();
      if (!has_value && f) {
        const std::string formula = f.child_value();
        const RawCell rc{RawCell::formula, crow, ccol, formula};
        if (formula.empty())  // a shared-formula follower whose text lives in another cell
          throw UserError(evaluation_failure(file, sheet.name, rc, "shared formula without stored values"));
        raw.push_back(rc);
        needs_eval = true;
        continue;
      }
      if (t == "s") {
        if (!has_value) continue;
        const std::string& s = shared(vt, crow, ccol);
        b.set(crow, ccol, s);
        raw.push_back({RawCell::text, crow, ccol, s});
      } else if (t == "inlineStr") {
        const std::string s = string_item_text(child(c, "is"));
        b.set(crow, ccol, s);
        raw.push_back({RawCell::text, crow, ccol, s});
      } else if (t == "str") {
        const std::string s = decode_xstring(vt);
        b.set(crow, ccol, s);
        raw.push_back({RawCell::text, crow, ccol, s});
      } else if (t == "b") {
        b.set(crow, ccol, std::strcmp(vt, "1") == 0 || std::strcmp(vt, "true") == 0 ? "TRUE" : "FALSE");
        raw.push_back({RawCell::boolean, crow, ccol, std::strcmp(vt, "1") == 0 ? "1" : "0"});
      } else if (t == "e" || t == "d") {
        b.set(crow, ccol, vt);  // error text ("#N/A") or an ISO 8601 date as written
        raw.push_back({t == "e" ? RawCell::error : RawCell::text, crow, ccol, vt});
      } else {  // "n" or absent: a number
        if (!has_value) continue;
        const auto num = to_number(vt);
        if (!num)
          throw UserError(file.string() + ", sheet '" + sheet.name + "', cell " + cell_name(crow, ccol) +
                          ": numeric cell holds '" + vt +
                          "', which is not a number; the workbook is damaged");
        b.set(crow, ccol, format_number(*num));
        raw.push_back({RawCell::number, crow, ccol, vt});
      }
    }
  }
  if (needs_eval) evaluate_formulas(raw, b, file, sheet.name);
  return b.build(file, sheet.name);
}

}  // namespace

std::vector<std::string> xlsx_sheet_names(const std::filesystem::path& file) {
  const Package pkg(file);
  std::vector<std::string> names;
  for (const auto& s : open_workbook(pkg, file).sheets) names.push_back(s.name);
  return names;
}

Table read_xlsx(const std::filesystem::path& file, const std::string& sheet) {
  const Package pkg(file);
  const Workbook wb = open_workbook(pkg, file);
  if (sheet.empty()) return read_sheet(pkg, file, wb, wb.sheets.front());
  std::string names;
  for (const auto& s : wb.sheets) {
    if (s.name == sheet) return read_sheet(pkg, file, wb, s);
    names += (names.empty() ? "'" : ", '") + s.name + "'";
  }
  throw UserError(file.string() + " has no sheet '" + sheet + "'; its sheets are " + names);
}

}  // namespace merx::table_detail
