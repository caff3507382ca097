// Checking explicitly set parameters against their declarations (merx/params.h). The same checker serves
// plugin parameters, the recipe's parameters and the training settings.
#pragma once

#include <string>
#include <vector>

#include "merx/errors.h"
#include "merx/params.h"

namespace merx {

/// Checks `given` (an object of explicitly set values; null counts as {}) against `decls`:
///  - a name that is not declared -> "`lamda` is not a parameter of <owner>; did you mean `lambda`?"
///  - type: an Int is an integer, or a number with an integral value (2.0); 1.5 is not. A Float is any
///    number (an integer is fine). Bool and String take exactly those JSON types.
///  - inclusive [min, max] bounds for Int/Float; `choices` for String (with did-you-mean).
/// Problems are appended with the path `<path>.<name>` (`path` itself when `given` is not an object).
/// `owner` names the declarer in messages, e.g. "backbone `linear`" or "training".
/// Returns every declared parameter: valid explicit values cast to the declared type, defaults for the
/// rest (and for invalid values, so that checking can continue). This is what a plugin receives.
json check_params(const std::vector<ParamDecl>& decls, const json& given, const std::string& path,
                  const std::string& owner, std::vector<Problem>& problems);

/// The values of `given` whose names are declared, cast to the declared type (Float -> double, Int ->
/// int64), others dropped: the explicit parameters as cell identities see them.
json cast_params(const std::vector<ParamDecl>& decls, const json& given);

}  // namespace merx
