// Reading a spec: JSON syntax errors with file:line:col, duplicate keys, --set, ${VAR}, JSON paths.
#include "helpers.h"
#include "spec/json_path.h"

using namespace merx;
using namespace merx::test;

TEST_CASE("a JSON syntax error is a UserError naming file, line and column") {
  const fs::path dir = temp_dir("syntax");
  write_file(dir / "bad.json", "{\n  \"name\": \"x\",\n  \"seeds\": ,\n}\n");
  try {
    load_spec(dir / "bad.json", {}, env_of({}));
    FAIL("expected a UserError");
  } catch (const ValidationError&) {
    FAIL("a syntax error is not a validation problem");
  } catch (const UserError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find((dir / "bad.json").string() + ":3:12: JSON syntax error:") == 0);
  }
  CHECK_THROWS_AS(load_spec(dir / "missing.json", {}, env_of({})), UserError);
}

TEST_CASE("a key written twice in one object is a problem at its path") {
  const fs::path dir = temp_dir("dupkeys");
  write_file(dir / "s.json",
             R"({"name": "x", "training": {"lr": 0.1, "lr": 0.2}, "datasets": [{"a": 1, "a": 2}]})");
  try {
    load_spec(dir / "s.json", {}, env_of({}));
    FAIL("expected a ValidationError");
  } catch (const ValidationError& e) {
    CHECK_PROBLEM(e.problems(), "training.lr", "written twice");
    CHECK_PROBLEM(e.problems(), "datasets[0].a", "written twice");
  }
}

TEST_CASE("load_spec resolves the base folder to the spec's folder") {
  const fs::path dir = temp_dir("base");
  write_file(dir / "sub" / "s.json", R"({"name": "x"})");
  const SpecSource s = load_spec(dir / "sub" / "s.json", {}, env_of({}));
  CHECK(s.base_dir == (dir / "sub").lexically_normal());
  CHECK(s.file == (dir / "sub" / "s.json").lexically_normal());
  CHECK(s.document.at("name") == "x");
}

TEST_CASE("--set parses JSON values, falls back to strings, creates known sections, appends to lists") {
  json doc = {{"name", "x"}, {"datasets", {{{"name", "a"}}}}};
  const SpecSource s =
      spec_from_json(doc, "/tmp",
                     {"training.epochs=3", "training.lr=1e-4", "protocol.name=lodo", "name=my run",
                      "seeds=[1,2]", "datasets[0].options.fps=200", "datasets[1]={\"name\":\"b\"}",
                      "sweep.grid[\"backbone.params.features\"]=[16,32]", "labels.membership=\"3\"",
                      "backbone={\"name\":\"linear\"}", "regularizer.params.x=true"},
                     env_of({}));
  const json& d = s.document;
  CHECK(d["training"]["epochs"] == 3);
  CHECK(d["training"]["lr"] == 1e-4);
  CHECK(d["protocol"]["name"] == "lodo");
  CHECK(d["name"] == "my run");
  CHECK(d["seeds"] == json({1, 2}));
  CHECK(d["datasets"][0]["options"]["fps"] == 200);
  CHECK(d["datasets"][1]["name"] == "b");
  CHECK(d["sweep"]["grid"]["backbone.params.features"] == json({16, 32}));
  CHECK(d["labels"]["membership"] == "3");
  CHECK(d["backbone"]["name"] == "linear");
  CHECK(d["regularizer"]["params"]["x"] == true);
  CHECK(s.sets.size() == 11);
}

TEST_CASE("--set into a list or object that is not there is a problem") {
  const json doc = {{"name", "x"}, {"datasets", json::array()}};
  auto problems = [&](const std::string& set) {
    try {
      spec_from_json(doc, "/tmp", {set}, env_of({}));
    } catch (const ValidationError& e) {
      return e.problems();
    }
    return std::vector<Problem>{};
  };
  CHECK_PROBLEM(problems("datasets[0].root=x"), "datasets[0]", "no element 0 (the list has 0)");
  CHECK_PROBLEM(problems("name.first=x"), "name", "not an object");
  CHECK_PROBLEM(problems("datasets.x=1"), "datasets", "not an object");
  CHECK_PROBLEM(problems("outputs.path=x"), "outputs", "did you mean `output`?");
  CHECK_PROBLEM(problems("a..b=1"), "", "bad path: empty key");
  CHECK(problems("datasets[0]={}").empty());
}

TEST_CASE("environment variables with and without defaults are replaced in string values, with an escape for a literal") {
  const json doc = {{"name", "${USER_NAME}-run"},
                    {"output", "${OUT:-results}/x.sqlite"},
                    {"description", "cost $${HOME} ${EMPTY:-fallback} [${EMPTY}]"},
                    {"datasets", {{{"root", "${ROOT}"}}}},
                    {"${NOT_A_KEY}", 1}};
  const SpecSource s =
      spec_from_json(doc, "/tmp", {}, env_of({{"USER_NAME", "ada"}, {"ROOT", "/data"}, {"EMPTY", ""}}));
  CHECK(s.document["name"] == "ada-run");
  CHECK(s.document["output"] == "results/x.sqlite");
  CHECK(s.document["description"] == "cost ${HOME} fallback []");
  CHECK(s.document["datasets"][0]["root"] == "/data");
  CHECK(s.document.contains("${NOT_A_KEY}"));
}

TEST_CASE("malformed variable references are problems at the string's path") {
  const json doc = {{"name", "x"}, {"sweep", {{"grid", {{"training.lr", {"${A", "${1X}", "${UNSET}"}}}}}}};
  try {
    spec_from_json(doc, "/tmp", {}, env_of({}));
    FAIL("expected a ValidationError");
  } catch (const ValidationError& e) {
    CHECK_PROBLEM(e.problems(), "sweep.grid[\"training.lr\"][0]", "unterminated `${`");
    CHECK_PROBLEM(e.problems(), "sweep.grid[\"training.lr\"][1]", "is not a variable name");
    CHECK_PROBLEM(e.problems(), "sweep.grid[\"training.lr\"][2]", "environment variable `UNSET` is not set");
  }
}

TEST_CASE("an unset variable used twice names the remedy once") {
  const json doc = {{"name", "x"}, {"output", "${NOPE}/o.sqlite"}, {"description", "${NOPE}"}};
  try {
    spec_from_json(doc, "/tmp", {}, env_of({}));
    FAIL("expected a ValidationError");
  } catch (const ValidationError& e) {
    REQUIRE(e.problems().size() == 2);
    int with_remedy = 0, pointer = 0;
    for (const auto& p : e.problems()) {
      with_remedy += p.message.find("`export NOPE=...` before running merx") != std::string::npos;
      pointer += p.message.find("(see its first use above)") != std::string::npos;
    }
    CHECK(with_remedy == 1);
    CHECK(pointer == 1);
  }
}

TEST_CASE("--set is applied before variable substitution, so a --set value may use variables") {
  const SpecSource s =
      spec_from_json({{"name", "x"}}, "/tmp", {"output=${D}/o.sqlite"}, env_of({{"D", "/r"}}));
  CHECK(s.document["output"] == "/r/o.sqlite");
}

TEST_CASE("JSON paths format and parse back") {
  using namespace merx::spec_internal;
  CHECK(path_key("", "training") == "training");
  CHECK(path_key("training", "lr") == "training.lr");
  CHECK(path_key("sweep.grid", "regularizer.params.x") == "sweep.grid[\"regularizer.params.x\"]");
  CHECK(path_index("datasets", 1) == "datasets[1]");
  std::string error;
  for (const char* p : {"training.lr", "datasets[1].root", "sweep.grid[\"a.b\"][2]", "[\"x y\"].z",
                        "labels.map[\"a\\\"b\"]"}) {
    auto segs = parse_path(p, error);
    REQUIRE_MESSAGE(segs, p);
    CHECK(format_path(*segs) == p);
  }
  auto bare = parse_path("datasets[0].options.my-key", error);
  REQUIRE(bare);
  CHECK(format_path(*bare) == "datasets[0].options[\"my-key\"]");
  for (const char* p : {"", "a.", ".a", "a..b", "a[", "a[x]", "a[\"x\"", "a]b", "a[0]b"})
    CHECK_FALSE(parse_path(p, error));
  CHECK(path_within("training.lr", "training"));
  CHECK(path_within("training", "training"));
  CHECK(path_within("datasets[1].root", "datasets"));
  CHECK_FALSE(path_within("training.lrx", "training.lr"));
  CHECK_FALSE(path_within("trainingx", "training"));
}

TEST_CASE("canonical JSON ignores key order and whitespace and writes integral numbers as integers") {
  const json a = json::parse(R"({"b": [1.0, 2.5, -0.0], "a": {"y": 1e2, "x": "s"}})");
  const json b = json::parse("{ \"a\":{\"x\":\"s\",\"y\":100},\n\"b\":[1,2.5,0] }");
  CHECK(canonical_json(a) == R"({"a":{"x":"s","y":100},"b":[1,2.5,0]})");
  CHECK(canonical_json(a) == canonical_json(b));
  CHECK(canonical_json(json(0.0005)) == "0.0005");
  CHECK(canonical_json(json(1e-05)) == "1e-05");
}
