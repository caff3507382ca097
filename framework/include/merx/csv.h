// Writing CSV (RFC 4180): the one field quoter every CSV writer of merx uses (`merx db query --format csv`,
// the store's exports, leaderboard CSV, `merx prep --export`).
#pragma once

#include <string>

namespace merx {

/// `s` as one CSV field: unchanged unless it holds a comma, a double quote, CR or LF; then enclosed in
/// double quotes with every `"` doubled.
std::string csv_field(const std::string& s);

}  // namespace merx
