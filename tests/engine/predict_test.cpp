// `merx predict` (issue 17): a stored cell's saved model applied to clips. The expected values are the
// cell's own stored predictions (written by `merx run` when it evaluated the fold), never recomputed here:
// predicting the cell's test clips again must give the same class and the same float32 probabilities.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "../cli/run.h"
#include "corpus_fixture.h"
#include "merx/store/store.h"

using namespace merx::test::engine;
using merx::test::run_merx;
using merx::test::slurp;

namespace {

std::vector<std::string> split_csv_line(const std::string& line) {  // the fixture's fields hold no quotes
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string f;
  while (std::getline(ss, f, ',')) out.push_back(f);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

}  // namespace

TEST_CASE("predict: a cell's model on its own test clips reproduces the stored predictions exactly, "
          "db models list and prune, db merge copies the models") {
  const Scratch scratch("predict");
  const fs::path& dir = scratch.dir;
  REQUIRE(write_corpus(dir));
  const fs::path db = dir / "results.sqlite";
  const fs::path spec = write_spec(dir, "spec.json", lodo_spec(dir, db.string(), "predict"));
  const std::string cache = " --cache " + q(dir / "cache");
  const auto r = run_merx("run " + q(spec) + cache + " --prep-jobs 2");
  INFO(r.err);
  REQUIRE(r.code == 0);

  struct Cell {
    int64_t id;
    std::string identity, target, variant;
  };
  std::vector<Cell> cells;
  std::map<std::string, std::vector<merx::Prediction>> stored;  // identity -> stored predictions
  {
    const merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
    store.query("SELECT c.id, c.identity, c.target, g.variant FROM cells c JOIN groups g ON g.id = c.group_id "
                "ORDER BY c.id",
                {}, [&](const std::vector<merx::SqlValue>& row) {
                  cells.push_back({std::get<int64_t>(row[0]), std::get<std::string>(row[1]),
                                   std::get<std::string>(row[2]), std::get<std::string>(row[3])});
                });
    for (const auto& c : cells) stored[c.identity] = store.read_cell(c.identity)->predictions;
  }
  REQUIRE(cells.size() == 3);  // lodo over alpha, beta, gamma

  {  // by cell id, the spec's target dataset, JSON: class and every probability equal
    for (const auto& c : cells) {
      CAPTURE(c.target);
      const fs::path out = dir / ("pred_" + c.target + ".json");
      const auto p = run_merx("predict " + q(db) + " --cell " + std::to_string(c.id) + " --spec " + q(spec) +
                              " --dataset " + c.target + " --out " + q(out) + cache + " -j 2");
      INFO(p.err);
      REQUIRE(p.code == 0);
      const nlohmann::json doc = nlohmann::json::parse(slurp(out));
      CHECK(doc["cell"] == c.identity);
      CHECK(doc["classes"] == nlohmann::json{"negative", "positive", "surprise"});
      const auto& clips = doc["clips"];
      // Every clip of the target: 2 subjects x 3 classes x clips per class (corpus_fixture.h).
      CHECK(clips.size() == static_cast<size_t>(2 * 3 * kClipsPerClass.at(c.target)));
      const auto& want = stored.at(c.identity);
      REQUIRE(want.size() == clips.size());
      std::map<std::string, nlohmann::json> by_key;
      for (const auto& clip : clips) by_key[clip["sample_key"]] = clip;
      for (const auto& w : want) {
        CAPTURE(w.sample_key);
        REQUIRE(by_key.count(w.sample_key));
        const auto& got = by_key[w.sample_key];
        CHECK(got["true_class"] == w.true_class);
        CHECK(got["predicted_class"] == w.predicted_class);
        CHECK(got["probabilities"] == w.probabilities);  // the same doubles (float32 widened), bit for bit
        CHECK(got["apex"] == 4);                          // the annotated apex (write_corpus)
      }
    }
  }

  {  // by variant and target, the corpus by adapter, CSV: 9-digit probabilities give the floats back
    const Cell& c = cells[1];
    const auto p = run_merx("predict " + q(db) + " --target " + c.target +  // one variant: no --variant needed
                            " --adapter manifest --root " + q(dir / c.target) + " --annotations " +
                            q(dir / c.target / "annotations.csv") + " --options '{\"cropped\": true}'" + cache);
    INFO(p.err);
    REQUIRE(p.code == 0);
    std::stringstream lines(p.out);
    std::string line;
    std::getline(lines, line);
    CHECK(line ==
          "sample_key,dataset,subject,clip,onset,apex,offset,apex_estimated,face_fallback,emotion,true_class,"
          "predicted_class,p_negative,p_positive,p_surprise,error");
    std::map<std::string, std::vector<std::string>> rows;
    while (std::getline(lines, line)) {
      const auto f = split_csv_line(line);
      REQUIRE(f.size() == 16);
      rows[f[0]] = f;
    }
    // The adapter's dataset is named after the adapter ("manifest"), the spec's after the corpus.
    const auto& want = stored.at(c.identity);
    REQUIRE(rows.size() == want.size());
    for (const auto& w : want) {
      const std::string key = "manifest" + w.sample_key.substr(w.sample_key.find('/'));
      CAPTURE(key);
      REQUIRE(rows.count(key));
      const auto& f = rows[key];
      CHECK(f[10] == w.true_class);
      CHECK(f[11] == w.predicted_class);
      const std::vector<std::string> classes = {"negative", "positive", "surprise"};
      for (size_t k = 0; k < 3; ++k)
        CHECK(std::stof(f[12 + k]) == static_cast<float>(w.probabilities[classes[k]].get<double>()));
      CHECK(f[15].empty());
    }
    CHECK(p.err.find("accuracy") != std::string::npos);
  }

  {  // a folder of frames: the same clip gives the same prediction; without --apex it is estimated
    const Cell& c = cells[0];
    const auto& want = stored.at(c.identity);
    const merx::Prediction& w = want.front();
    // sample_key "<dataset>/<subject>/<clip>" -> <dir>/<dataset>/frames/<clip>
    const std::string dataset = w.sample_key.substr(0, w.sample_key.find('/'));
    const std::string clip = w.sample_key.substr(w.sample_key.rfind('/') + 1);
    const fs::path folder = dir / dataset / "frames" / clip;
    const auto p = run_merx("predict " + q(db) + " --cell " + c.identity.substr(0, 10) + " --frames " + q(folder) +
                            " --onset 1 --apex 4 --offset 6 --face-cropped --format json" + cache);
    INFO(p.err);
    REQUIRE(p.code == 0);
    const nlohmann::json doc = nlohmann::json::parse(p.out);
    REQUIRE(doc["clips"].size() == 1);
    const auto& got = doc["clips"][0];
    CHECK(got["sample_key"] == "frames/frames/" + clip);
    CHECK(got["predicted_class"] == w.predicted_class);
    // The same input, but one clip is a batch of one: the matrix kernels for a single row may round the last
    // bits differently from the stored batch evaluation, so equal to float precision, not bit for bit.
    for (const auto& [cls, v] : w.probabilities.items())
      CHECK(got["probabilities"][cls].get<double>() == doctest::Approx(v.get<double>()).epsilon(1e-5));
    CHECK(got["true_class"].is_null());  // a bare folder has no label
    CHECK(got["apex_estimated"] == false);

    const auto e = run_merx("predict " + q(db) + " --cell " + std::to_string(c.id) + " --frames " + q(folder) +
                            " --face-cropped" + cache);
    INFO(e.err);
    REQUIRE(e.code == 0);
    std::stringstream lines(e.out);
    std::string header, row;
    std::getline(lines, header);
    std::getline(lines, row);
    const auto f = split_csv_line(row);
    REQUIRE(f.size() == 16);
    CHECK(f[4] == "1");  // onset: the first frame
    CHECK(f[6] == "6");  // offset: the last frame
    const int apex = std::stoi(f[5]);
    CHECK(apex >= 2);  // chosen by flow magnitude after the onset (preprocess.h)
    CHECK(apex <= 6);
    CHECK(f[7] == "1");
  }

  {  // user errors exit 2 and say what is wrong
    const fs::path empty = dir / "no_frames";
    fs::create_directories(empty);
    std::ofstream(empty / "notes.txt") << "no images here\n";
    struct Case {
      std::string args, says;
    };
    const std::string id = std::to_string(cells[0].id);
    const std::vector<Case> cases = {
        {"--cell 999 --frames " + q(empty), "no cell with id 999 in "},
        {"--cell " + id + " --frames " + q(empty), (empty.string() + ": no image files")},
        {"--cell " + id + " --frames " + q(dir / "missing"), (dir / "missing").string()},
        {"--cell " + id + " --variant x --target y --frames " + q(empty), "not both"},
        {"--frames " + q(empty), "choose the model"},
        {"--variant nope --target alpha --frames " + q(empty), "no done cell of variant 'nope'"},
        {"--variant nope --frames " + q(empty), "--variant goes with --target"},
        {"--cell " + id, "give the clips one way"},
        {"--cell " + id + " --spec " + q(spec) + " --dataset delta", "--dataset delta: not a dataset"},
        {"--cell " + id + " --frames " + q(dir / "alpha" / "frames" / "s1_negative0") + " --apex 9",
         "--apex 9 is outside onset..offset 1..6"},
    };
    for (const auto& k : cases) {
      CAPTURE(k.args);
      const auto e = run_merx("predict " + q(db) + " " + k.args + cache);
      INFO(e.err);
      CHECK(e.code == 2);
      CHECK(e.err.find(k.says) != std::string::npos);
    }
    // A cell whose model file is gone: named, exit 2.
    const std::string sha = [&] {
      const merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
      return store.read_cell(cells[2].identity)->model_sha256;
    }();
    const fs::path model = db.string() + "-models/" + sha + ".mxm";
    fs::rename(model, dir / "moved.mxm");
    const auto gone = run_merx("predict " + q(db) + " --cell " + std::to_string(cells[2].id) + " --frames " +
                               q(dir / "alpha" / "frames" / "s1_negative0") + cache);
    CHECK(gone.code == 2);
    CHECK(gone.err.find(model.string()) != std::string::npos);
    fs::rename(dir / "moved.mxm", model);
  }
  {  // db merge copies the model files; db models list shows them; prune removes only unreferenced old files
    const fs::path merged = dir / "merged.sqlite";
    const auto m = run_merx("db merge " + q(merged) + " " + q(db));
    INFO(m.err);
    REQUIRE(m.code == 0);
    CHECK(m.out.find("saved models: 3 in " + merged.string() + "-models") != std::string::npos);
    std::vector<std::string> shas;
    {
      const merx::Store store = merx::Store::open(db.string(), merx::Store::Mode::ReadOnly);
      for (const auto& c : cells) shas.push_back(store.read_cell(c.identity)->model_sha256);
    }
    for (const auto& sha : shas) {
      const fs::path copy = merged.string() + "-models/" + sha + ".mxm";
      REQUIRE(fs::is_regular_file(copy));
      CHECK(slurp(copy) == slurp(db.string() + "-models/" + sha + ".mxm"));
    }
    // The merged database predicts as the original did.
    const auto p = run_merx("predict " + q(merged) + " --cell " + cells[0].identity.substr(0, 8) +
                            " --spec " + q(spec) + " --dataset " + cells[0].target + " --format json" + cache);
    INFO(p.err);
    REQUIRE(p.code == 0);
    const nlohmann::json doc = nlohmann::json::parse(p.out);
    REQUIRE(doc["clips"].size() == stored.at(cells[0].identity).size());
    for (const auto& clip : doc["clips"])
      for (const auto& w : stored.at(cells[0].identity))
        if (w.sample_key == clip["sample_key"]) CHECK(clip["probabilities"] == w.probabilities);

    const auto l = run_merx("db models list --db " + q(merged) + " --format csv");
    INFO(l.err);
    REQUIRE(l.code == 0);
    std::stringstream lines(l.out);
    std::string line;
    std::getline(lines, line);
    CHECK(line == "cell,experiment,variant,seed,fold,target,chosen_epoch,model_sha256,model_bytes,file");
    std::vector<std::vector<std::string>> rows;
    while (std::getline(lines, line)) rows.push_back(split_csv_line(line));
    REQUIRE(rows.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
      REQUIRE(rows[i].size() == 10);
      CHECK(rows[i][1] == "predict");
      CHECK(rows[i][5] == cells[i].target);
      CHECK(rows[i][6] == "1");  // 2 epochs, selection last: epoch index 1 (lodo_spec)
      CHECK(rows[i][7] == shas[i]);
      CHECK(rows[i][8] == std::to_string(fs::file_size(merged.string() + "-models/" + shas[i] + ".mxm")));
      CHECK(rows[i][9] == "ok");
    }

    // prune: an old orphan goes, a fresh orphan (a run may be about to reference it) and referenced files stay.
    const fs::path models = merged.string() + "-models";
    const fs::path old_orphan = models / (std::string(64, 'a') + ".mxm");
    const fs::path new_orphan = models / (std::string(64, 'b') + ".mxm");
    const fs::path old_tmp = models / (shas[0] + ".mxm.tmp99.0");
    for (const auto& f : {old_orphan, new_orphan, old_tmp}) std::ofstream(f) << "x";
    for (const auto& f : {old_orphan, old_tmp})
      fs::last_write_time(f, fs::file_time_type::clock::now() - std::chrono::hours(2));
    const auto dry = run_merx("db models prune --db " + q(merged) + " --dry-run");
    REQUIRE(dry.code == 0);
    CHECK(dry.out.find("would remove 2 file(s), 2 bytes") != std::string::npos);
    CHECK(fs::exists(old_orphan));
    const auto pr = run_merx("db models prune --db " + q(merged));
    INFO(pr.err);
    REQUIRE(pr.code == 0);
    CHECK(pr.out.find("removed 2 file(s), 2 bytes") != std::string::npos);
    CHECK(pr.out.find("1 changed in the last hour kept") != std::string::npos);
    CHECK(!fs::exists(old_orphan));
    CHECK(!fs::exists(old_tmp));
    CHECK(fs::exists(new_orphan));
    for (const auto& sha : shas) CHECK(fs::exists(models / (sha + ".mxm")));

    fs::remove(models / (shas[1] + ".mxm"));
    const auto gone = run_merx("db models list --db " + q(merged));
    REQUIRE(gone.code == 0);
    CHECK(gone.out.find("missing") != std::string::npos);
    CHECK(gone.out.find("1 missing or damaged") != std::string::npos);
  }
}
