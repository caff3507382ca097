// Self-consistency of parameter declarations (what the host checks in every plugin's descriptor).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "merx/plugins/registry.h"

using merx::ParamDecl;
using merx::Search;

namespace {
std::vector<std::string> problems(std::vector<ParamDecl> decls) {
  return merx::param_decl_problems(decls);
}
}  // namespace

TEST_CASE("consistent declarations have no problems") {
  std::vector<ParamDecl> decls;
  decls.push_back(ParamDecl::integer("features", 64).range(1, 65536).search_as(Search::choice({16, 32, 64})));
  decls.push_back(ParamDecl::real("lr", 1e-3).range(1e-4, 1).search_as(Search::log10_uniform(-4, 0)));
  decls.push_back(ParamDecl::real("beta", 0).range(0, 1).search_as(Search::log10_uniform(-3, 0, 0.5)));
  decls.push_back(ParamDecl::real("dropout", 0.5).range(0, 1).search_as(Search::uniform(0, 0.9)));
  decls.push_back(ParamDecl::real("steps_scale", 2).at_least(0).search_as(Search::int_uniform(1, 4)));
  decls.push_back(ParamDecl::boolean("affine", true).search_as(Search::choice({true, false})));
  decls.push_back(ParamDecl::string("mode", "mean").one_of({"mean", "max"}));
  decls.push_back(ParamDecl::string("tag", "anything"));
  CHECK(problems(decls).empty());
}

TEST_CASE("a default outside its range or of another type or not among the choices is a problem") {
  auto p = problems({ParamDecl::integer("width", 0).range(1, 64)});
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "parameter 'width': default 0 is below min 1");

  p = problems({ParamDecl::real("lambda", 200).range(0, 100)});
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "parameter 'lambda': default 200 is above max 100");

  ParamDecl n = ParamDecl::integer("n", 1);
  n.default_value = 1.5;
  p = problems({n});
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "parameter 'n': default 1.5 is not an int");

  ParamDecl flag = ParamDecl::boolean("flag", true);
  flag.default_value = "yes";
  CHECK(problems({flag}).size() == 1);

  p = problems({ParamDecl::string("mode", "median").one_of({"mean", "max"})});
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "parameter 'mode': default \"median\" is not one of the choices");
}

TEST_CASE("bounds and choices and search ranges must fit the declaration") {
  CHECK(problems({ParamDecl::integer("k", 5).range(10, 1)}).size() >= 1);  // min > max (and default out)
  CHECK(problems({ParamDecl::string("s", "a").range(0, 1)}).size() == 1);
  CHECK(problems({ParamDecl::integer("k", 1).one_of({"a"})}).size() == 1);
  // A float search on an int parameter would draw non-integers.
  CHECK(problems({ParamDecl::integer("k", 1).range(0, 9).search_as(Search::uniform(0, 9))}).size() == 1);
  // Search values and ends must stay inside the bounds.
  auto p = problems({ParamDecl::integer("k", 1).range(1, 8).search_as(Search::choice({1, 16}))});
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "parameter 'k': search value 16 is above max 8");
  CHECK(
      problems({ParamDecl::real("lr", 0.1).range(1e-4, 1).search_as(Search::log10_uniform(-5, 0))}).size() ==
      1);
  // zero_prob > 0 draws 0, which the range must allow.
  CHECK(problems({ParamDecl::real("b", 0.1).range(1e-3, 1).search_as(Search::log10_uniform(-3, 0, 0.5))})
            .size() == 1);
  CHECK(problems({ParamDecl::real("u", 0.5).search_as(Search::uniform(1, 0))}).size() == 1);
  CHECK(problems({ParamDecl::real("u", 0.5).search_as(Search::choice({}))}).size() == 1);
}

TEST_CASE("parameter names are non-empty identifiers declared once each") {
  CHECK(problems({ParamDecl::integer("", 1)}).size() == 1);
  CHECK(problems({ParamDecl::integer("a.b", 1)}).size() == 1);
  auto p = problems({ParamDecl::integer("w", 1), ParamDecl::real("w", 1)});
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "parameter 'w': declared twice");
}
