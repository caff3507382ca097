// `merx report`: one self-contained HTML file, rendered by headless Chromium (Debian package `chromium`):
// the DOM has the leaderboard table and the screenshot shows drawn charts (coloured pixels).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cli/run.h"
#include "fixture.h"
#include "merx/errors.h"
#include "merx/report/report.h"
#include "merx/store/store.h"
#include "store/store_test_util.h"

using namespace merx;
namespace fs = std::filesystem;

namespace {

std::string q(const std::string& s) {
  return "'" + s + "'";
}

std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(p)) return p;
  return "";
}

}  // namespace

TEST_CASE("report: a variant's spec label names its leaderboard row and its runs") {
  test::TempDir dir;
  const std::string db = dir.file("study.sqlite"), html = dir.file("report.html");
  {
    Store s = Store::open(db);
    test::write_study(
        s, [](std::size_t) { return true; }, "single");
    // The spec relabelled and stored again (a new experiment row of the same name; groups stay put).
    const nlohmann::json spec = {{"name", "study"},
                                 {"sweep", {{"variants", {{{"name", "brl"}, {"label", "Ours (BRL)"}}}}}}};
    s.upsert_experiment({"study", spec, std::string(64, '6')});
  }
  const test::RunResult r = test::run_merx("report --db " + q(db) + " -o " + q(html));
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const std::string page = test::slurp(html);
  CHECK(page.find("<td>Ours (BRL)") != std::string::npos);       // leaderboard row
  CHECK(page.find("study · Ours (BRL) · #1") != std::string::npos);  // run heading (brl is point 1)
  CHECK(page.find("ststnet + brl + none [brl]") == std::string::npos);
  CHECK(page.find("ststnet + none + none [erm]") != std::string::npos);  // no label: the identity text
}

TEST_CASE("report: one offline HTML page with leaderboard, charts, heatmaps, curves and provenance") {
  test::TempDir dir;
  const std::string db = dir.file("study.sqlite"), html = dir.file("report.html");
  {
    Store s = Store::open(db);
    test::write_study(
        s, [](std::size_t) { return true; }, "single");
  }
  const test::RunResult r = test::run_merx("report --db " + q(db) + " -o " + q(html));
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const std::string page = test::slurp(html);
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(page.find("id=\"leaderboard-1\"") != std::string::npos);
  CHECK(page.find("ststnet + brl + none [brl]") != std::string::npos);
  CHECK(page.find("confusion, pooled (2 seeds)") != std::string::npos);
  CHECK(page.find("confusion, target samm") != std::string::npos);
  CHECK(page.find("per-class F1") != std::string::npos);
  // Per-class F1 of the selected rows: erm on casme2, class negative, from plain SQL over the stored
  // group-level rows (one sweep point per method, so the selected point is the only one).
  const size_t per_class_at = page.find("<table class=\"perclass\">");
  REQUIRE(per_class_at != std::string::npos);
  CHECK(page.find("<th>casme2 negative</th>", per_class_at) != std::string::npos);
  const std::string erm_negative = test::sql_text(
      db,
      "SELECT printf('%.4f', avg(f1)) FROM per_class WHERE variant = 'erm' AND cell_id IS NULL AND "
      "scope = 'target' AND target = 'casme2' AND class = 'negative'");
  REQUIRE_FALSE(erm_negative.empty());
  CHECK(page.find("<tr><td>ststnet + none + none [erm]</td><td>" + erm_negative + " ± ", per_class_at) !=
        std::string::npos);
  CHECK(page.find("curve loss (mean over cells, per target)") != std::string::npos);
  CHECK(page.find("experiment study") != std::string::npos);  // provenance
  CHECK(page.find("sha256 aaaaaaaaaaaaaaaa") != std::string::npos);
  // Nothing is fetched when the page is viewed: no script, no external reference of any kind.
  for (const char* bad : {"<script", "http:", "https:", "src=", "url(", "@import", "<link"}) {
    INFO(bad);
    CHECK(page.find(bad) == std::string::npos);
  }
  // Unknown experiment: exit 2.
  CHECK(test::run_merx("report --db " + q(db) + " --experiment nosuch -o " + q(dir.file("x.html"))).code ==
        2);
  CHECK(
      test::run_merx("report --db " + q(dir.file("missing.sqlite")) + " -o " + q(dir.file("x.html"))).code ==
      2);

  const std::string browser = chromium();
  if (browser.empty()) {
    MESSAGE(
        "SKIPPED the rendering half: chromium is not installed (Debian package `chromium`, tools/bootstrap)");
    return;
  }
  const std::string common =
      browser + " --headless --no-sandbox --disable-gpu --user-data-dir=" + q(dir.file("profile")) + " ";
  const test::RunResult dom = test::run_shell("timeout 120 " + common + "--dump-dom " + q("file://" + html));
  REQUIRE_MESSAGE(dom.code == 0, dom.err);
  CHECK(dom.out.find("id=\"leaderboard-1\"") != std::string::npos);
  CHECK(dom.out.find("<svg class=\"chart\"") != std::string::npos);

  const std::string png = dir.file("shot.png");
  const test::RunResult shot =
      test::run_shell("timeout 120 " + common + "--hide-scrollbars --window-size=1400,1400 " +
                      "--screenshot=" + q(png) + " " + q("file://" + html));
  REQUIRE_MESSAGE(shot.code == 0, shot.err);
  const cv::Mat img = cv::imread(png, cv::IMREAD_COLOR);
  REQUIRE_FALSE(img.empty());
  CHECK(img.cols == 1400);
  // Charts are the only coloured things on the page (tables and text are grey/black on white): count
  // saturated pixels and require a sizeable coloured region (a bar chart's bars alone cover thousands).
  cv::Mat hsv;
  cv::cvtColor(img, hsv, cv::COLOR_BGR2HSV);
  cv::Mat coloured;
  cv::inRange(hsv, cv::Scalar(0, 80, 60), cv::Scalar(180, 255, 255), coloured);
  const int n = cv::countNonZero(coloured);
  MESSAGE("coloured pixels in the 1400x1400 screenshot: " << n);
  CHECK(n > 2000);
  // ...forming a chart region: the bounding box of the coloured pixels is wide and tall, and not uniform.
  const cv::Rect box = cv::boundingRect(coloured);
  CHECK(box.width > 150);
  CHECK(box.height > 80);
  cv::Mat grey;
  cv::cvtColor(img(box), grey, cv::COLOR_BGR2GRAY);
  cv::Scalar mean, sd;
  cv::meanStdDev(grey, mean, sd);
  CHECK(sd[0] > 10);
}
