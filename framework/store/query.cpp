// Store::query: one read-only SQL statement with positional parameters (leaderboard, `merx db query`).
#include <cstring>

#include "store/store_impl.h"

namespace merx {
namespace {

// Denies, while a user statement compiles, what sqlite3_stmt_readonly() lets through although it changes
// the connection or the file system: ATTACH/DETACH (may create a file), transaction control, and PRAGMAs
// that assign a value (PRAGMA x = y). Writes to tables are caught by sqlite3_stmt_readonly() afterwards.
int authorize(void* denied, int action, const char* a1, const char* a2, const char*, const char*) {
  auto* what = static_cast<std::string*>(denied);
  switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      *what = "ATTACH/DETACH";
      return SQLITE_DENY;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      *what = "transaction control";
      return SQLITE_DENY;
    case SQLITE_PRAGMA:
      // PRAGMA name(arg) of the schema-inspection pragmas reads only; any other argument may assign.
      if (a2 != nullptr && a1 != nullptr) {
        static const char* kReading[] = {"table_info",        "table_xinfo",     "index_info",
                                         "index_xinfo",       "index_list",      "foreign_key_list",
                                         "foreign_key_check", "integrity_check", "quick_check"};
        for (const char* name : kReading)
          if (sqlite3_stricmp(a1, name) == 0) return SQLITE_OK;
      }
      if (a2 != nullptr) {
        *what = std::string("PRAGMA ") + (a1 ? a1 : "") + " with a value";
        return SQLITE_DENY;
      }
      return SQLITE_OK;
    default:
      return SQLITE_OK;
  }
}

bool blank(const char* p, const char* end) {
  // Whitespace and comments only.
  while (p < end) {
    if (std::strchr(" \t\r\n;", *p)) {
      ++p;
    } else if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
      while (p < end && *p != '\n') ++p;
    } else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
      const char* close = std::strstr(p + 2, "*/");
      p = close ? close + 2 : end;
    } else {
      return false;
    }
  }
  return true;
}

struct Finalize {
  sqlite3_stmt* s = nullptr;
  ~Finalize() { sqlite3_finalize(s); }
};

}  // namespace

void Store::query(std::string_view sql, const std::vector<SqlValue>& params,
                  const std::function<void(const std::vector<SqlValue>&)>& on_row,
                  std::vector<std::string>* columns) const {
  sqlite3* db = impl_->db.get();
  std::string denied;
  sqlite3_set_authorizer(db, authorize, &denied);
  Finalize st;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &st.s, &tail);
  sqlite3_set_authorizer(db, nullptr, nullptr);
  const char* end = sql.data() + sql.size();
  if (rc != SQLITE_OK) {
    if (!denied.empty()) throw SqlRefused("refused: " + denied + " is not allowed in a read-only query");
    throw SqlRefused(std::string("SQL error: ") + sqlite3_errmsg(db));
  }
  if (!st.s) throw SqlRefused("no SQL statement given");
  if (tail && !blank(tail, end))
    throw SqlRefused("refused: give exactly one SQL statement (found more after ';')");
  if (!sqlite3_stmt_readonly(st.s)) {
    std::string head(sqlite3_sql(st.s));
    head = head.substr(0, head.find_first_of(" \t\r\n("));
    throw SqlRefused("refused: '" + head + "' writes to the database; queries are read-only");
  }
  const int n_params = sqlite3_bind_parameter_count(st.s);
  if (static_cast<std::size_t>(n_params) != params.size())
    throw SqlRefused("the statement has " + std::to_string(n_params) + " parameter(s) but " +
                     std::to_string(params.size()) + " value(s) were given");
  for (int i = 1; i <= n_params; ++i) {
    const SqlValue& v = params[static_cast<std::size_t>(i - 1)];
    int brc = SQLITE_OK;
    if (std::holds_alternative<std::monostate>(v)) brc = sqlite3_bind_null(st.s, i);
    if (const auto* x = std::get_if<int64_t>(&v)) brc = sqlite3_bind_int64(st.s, i, *x);
    if (const auto* x = std::get_if<double>(&v)) brc = sqlite3_bind_double(st.s, i, *x);
    if (const auto* x = std::get_if<std::string>(&v))
      brc = sqlite3_bind_text64(st.s, i, x->data(), x->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (brc != SQLITE_OK) sqlite::fail(db, brc, "binding parameter " + std::to_string(i));
  }
  const int n_cols = sqlite3_column_count(st.s);
  if (columns) {
    columns->clear();
    for (int c = 0; c < n_cols; ++c) columns->push_back(sqlite3_column_name(st.s, c));
  }
  std::vector<SqlValue> row(static_cast<std::size_t>(n_cols));
  for (;;) {
    const int src = sqlite3_step(st.s);
    if (src == SQLITE_DONE) break;
    if (src != SQLITE_ROW) sqlite::fail(db, src, "running '" + std::string(sql.substr(0, 60)) + "'");
    for (int c = 0; c < n_cols; ++c) {
      SqlValue& v = row[static_cast<std::size_t>(c)];
      switch (sqlite3_column_type(st.s, c)) {
        case SQLITE_NULL:
          v = std::monostate{};
          break;
        case SQLITE_INTEGER:
          v = static_cast<int64_t>(sqlite3_column_int64(st.s, c));
          break;
        case SQLITE_FLOAT:
          v = sqlite3_column_double(st.s, c);
          break;
        default: {
          const auto* p = static_cast<const char*>(sqlite3_column_blob(st.s, c));
          v = std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st.s, c)));
        }
      }
    }
    on_row(row);
  }
}

}  // namespace merx
