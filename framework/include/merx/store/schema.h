// The results-store schema as numbered migrations (db/NNN_name.sql, compiled in). Version N of the schema
// is the result of applying migrations 1..N in order; PRAGMA user_version holds N.
#pragma once

#include <string>
#include <vector>

namespace merx {

struct Migration {
  int version;       // NNN of db/NNN_name.sql
  const char* file;  // file name, for messages
  const char* sql;   // the script, applied inside BEGIN EXCLUSIVE
};

/// All migrations, ascending by version, 1..N with no gaps.
const std::vector<Migration>& schema_migrations();

}  // namespace merx
