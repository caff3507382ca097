// The cell limit (merx/spec/plan.h kMaxPlanCells): cells are counted from the sizes of the sweep before
// anything is expanded, with saturation instead of overflow, and a spec above the limit is refused with the
// count and its factors unless PlanOptions::allow_large is set.
#include <chrono>
#include <cstdint>
#include <limits>

#include "helpers.h"

using namespace merx;
using namespace merx::test;

namespace {

using K = CellFactor::Kind;

json values(size_t n, double first, double step) {
  json a = json::array();
  for (size_t i = 0; i < n; ++i) a.push_back(first + step * static_cast<double>(i));
  return a;
}

// The UserError message of planning `doc`, "" when it plans.
std::string refusal(const json& doc, const fs::path& dir, const PlanOptions& options = {}) {
  try {
    plan_of(doc, dir, {}, options);
  } catch (const ValidationError& e) {
    return std::string("ValidationError: ") + e.what();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("count_cells multiplies the factors and saturates instead of overflowing") {
  // 1000 * 1000 * 1000 * 5 * 3 = 15,000,000,000 (beyond 32 bits).
  const CellCount a = count_cells({{K::GridKey, "training.lr", 1000},
                                   {K::GridKey, "training.weight_decay", 1000},
                                   {K::GridKey, "training.epochs", 1000},
                                   {K::Folds, "", 5},
                                   {K::Seeds, "", 3}});
  CHECK(a.cells == 15000000000ULL);
  CHECK_FALSE(a.saturated);
  CHECK(
      a.text() ==
      "sweep.grid training.lr (1,000) × training.weight_decay (1,000) × training.epochs (1,000) × 5 folds × "
      "3 seeds = 15,000,000,000 cells");

  // (2^32 - 1)(2^32 + 1) = 2^64 - 1 = UINT64_MAX exactly: not saturated; 2^32 * 2^32 = 2^64 is.
  const uint64_t two32 = uint64_t{1} << 32;
  const CellCount edge = count_cells({{K::GridKey, "a", two32 - 1}, {K::GridKey, "b", two32 + 1}});
  CHECK(edge.cells == std::numeric_limits<uint64_t>::max());
  CHECK_FALSE(edge.saturated);
  const CellCount over = count_cells({{K::GridKey, "a", two32}, {K::GridKey, "b", two32}, {K::Seeds, "", 1}});
  CHECK(over.cells == std::numeric_limits<uint64_t>::max());
  CHECK(over.saturated);
  CHECK(over.text() ==
        "sweep.grid a (4,294,967,296) × b (4,294,967,296) × 1 seed = more than "
        "18,446,744,073,709,551,615 cells");
  // Saturation is sticky: a later factor 1 does not bring the product back.
  CHECK(count_cells({{K::GridKey, "a", two32}, {K::GridKey, "b", two32}, {K::GridKey, "c", 1}}).saturated);

  // The limit itself: 100,000 = 10 * 10 * 1000 is not above it, 100,001 (a prime's worth) is.
  CHECK(count_cells({{K::Variants, "", 10}, {K::RandomDraws, "", 10}, {K::Seeds, "", 1000}}).cells ==
        kMaxPlanCells);
  CHECK(count_cells({{K::Seeds, "", 100001}}).cells > kMaxPlanCells);
  CHECK(count_cells({{K::Variants, "", 2}, {K::RandomDraws, "", 3}, {K::Folds, "", 1}}).text() ==
        "sweep.variants (2) × sweep.random.count (3) × 1 fold = 6 cells");
  CHECK(count_cells({}).cells == 1);
  CHECK(count_cells({{K::Folds, "", 0}, {K::GridKey, "a", two32}, {K::GridKey, "b", two32}}).cells == 0);
  CHECK(thousands(0) == "0");
  CHECK(thousands(999) == "999");
  CHECK(thousands(1000) == "1,000");
  CHECK(thousands(12000000) == "12,000,000");
}

TEST_CASE("a sweep of billions of cells is refused before expansion, naming the count and its factors") {
  const fs::path dir = toy_datasets("limit_huge");
  json spec = base_spec();
  spec["seeds"] = 2;
  spec["sweep"] = {{"variants", {{{"name", "p"}}, {{"name", "q"}, {"training", {{"epochs", 3}}}}}},
                   {"grid",
                    {{"training.lr", values(1000, 1e-4, 1e-6)},
                     {"training.weight_decay", values(1000, 0, 1e-6)},
                     {"backbone.params.features", values(1000, 1, 1)}}}};
  // By hand: 2 variants x 1000 x 1000 x 1000 grid points x 3 lodo folds x 2 seeds = 12,000,000,000 cells.
  const auto t0 = std::chrono::steady_clock::now();
  const std::string msg = refusal(spec, dir);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(
      msg ==
      "sweep.variants (2) × sweep.grid backbone.params.features (1,000) × training.lr (1,000) × "
      "training.weight_decay (1,000) × 3 folds × 2 seeds = 12,000,000,000 cells, above the limit of 100,000; "
      "pass --allow-large to expand it anyway");
  CHECK(seconds < 5.0);  // counted, not expanded (expanding took minutes and gigabytes)

  // Beyond 2^64 - 1 it is refused even when allowed: 1000^7 = 10^21.
  json huge = base_spec();
  for (const char* k : {"training.lr", "training.weight_decay", "training.epochs", "training.batch",
                        "training.momentum", "training.gamma", "backbone.params.features"})
    huge["sweep"]["grid"][k] = values(1000, 1, 1);
  PlanOptions allow;
  allow.allow_large = true;
  const std::string beyond = refusal(huge, dir, allow);
  CHECK(beyond.find("= more than 18,446,744,073,709,551,615 cells: too many to expand on any machine") !=
        std::string::npos);
}

TEST_CASE("a spec at the limit expands, one cell above it is refused unless allowed") {
  const fs::path dir = toy_datasets("limit_edge");
  json spec = base_spec();
  spec["protocol"]["params"] = {{"targets", {"a", "b"}}};  // 2 folds
  spec["sweep"] = {{"grid", {{"training.lr", values(10, 1e-3, 1e-4)}}}};
  spec["seeds"] = 5000;  // 10 points x 2 folds x 5000 seeds = 100,000 cells = kMaxPlanCells
  const Plan at = plan_of(spec, dir);
  CHECK(at.cells.size() == 100000);

  spec["seeds"] = 5001;  // 100,020 cells
  CHECK(refusal(spec, dir) ==
        "sweep.grid training.lr (10) × 2 folds × 5,001 seeds = 100,020 cells, above the limit of 100,000; "
        "pass --allow-large to expand it anyway");
  PlanOptions allow;
  allow.allow_large = true;
  CHECK(plan_of(spec, dir, {}, allow).cells.size() == 100020);
}

TEST_CASE("invalid folds or seeds are left out of the count and reported once the count passes") {
  const fs::path dir = toy_datasets("limit_invalid");
  json spec = base_spec();
  spec["seeds"] = -1;  // invalid: not counted
  spec["sweep"] = {
      {"grid", {{"training.lr", values(400, 1e-3, 1e-6)}, {"training.epochs", values(300, 1, 1)}}}};
  // 400 x 300 = 120,000 points x 3 folds, the seeds left out.
  CHECK(refusal(spec, dir) ==
        "sweep.grid training.epochs (300) × training.lr (400) × 3 folds = 360,000 cells, above the limit of "
        "100,000; pass --allow-large to expand it anyway");
  spec["sweep"]["grid"]["training.epochs"] = values(3, 1, 1);
  CHECK_PROBLEM(problems_of(spec, dir), "seeds", "at least 1");
}
