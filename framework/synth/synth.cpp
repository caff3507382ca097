// generate(): sources -> plan -> one face model per subject -> every clip's frames (TBB, one seeded noise
// generator per clip, so the bytes do not depend on the thread count) -> sheets, ground truth, index files.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "merx/errors.h"
#include "merx/synth/synth.h"
#include "synth/internal.h"
#include "synth/write.h"

namespace merx::synth {

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> p = {"tiny", "default", "shift", "shift_invariant", "shift_tiny"};
  return p;
}

namespace {

namespace fs = std::filesystem;

// The entries merx synth owns in OUT (removed before a `replace`).
std::vector<std::string> owned_entries() {
  return {"README.md", "datasets.json", "ground_truth.csv", "synth.json",   "casme2_like",
          "samm_like", "smic_like",     "casme2_like_cf",   "samm_like_cf", "smic_like_cf"};
}

// Refuses an OUT that is a file, holds something else, or holds a corpus without `replace` (before any work).
void check_out(const fs::path& out, bool replace) {
  std::error_code ec;
  if (out.empty()) throw UserError("synth: no output folder given (--out DIR)");
  if (!fs::exists(out, ec) || (fs::is_directory(out, ec) && fs::is_empty(out, ec))) return;
  if (!fs::is_directory(out, ec)) throw UserError("synth: " + out.string() + " exists and is not a folder");
  if (!fs::exists(out / "synth.json", ec))
    throw UserError("synth: " + out.string() +
                    " is not empty and holds no corpus written by merx synth; give an empty or new folder");
  if (!replace)
    throw UserError("synth: " + out.string() +
                    " already holds a demo corpus; give --force to replace it, or another folder");
}

void prepare_out(const fs::path& out) {
  for (const auto& e : owned_entries()) fs::remove_all(out / e);
  fs::create_directories(out);
}

}  // namespace

SynthSummary generate(const SynthOptions& options) {
  using namespace detail;
  const auto start = std::chrono::steady_clock::now();
  Preset pre = preset(options.preset);  // UserError for an unknown name, before touching OUT
  if (!options.counterfactual_twins) pre.shift.counterfactual_twins = false;
  check_out(options.out, options.replace);
  const fs::path sources_dir = options.sources.empty() ? default_sources_dir() : options.sources;
  tbb::task_arena arena(options.threads > 0 ? options.threads : tbb::task_arena::automatic);
  Sources sources;
  arena.execute([&] { sources = load_sources(sources_dir, pre, options.warn); });
  if (sources.faces.empty())
    throw UserError("synth: no face source found in " + sources_dir.string() + " (expected " +
                    source_files()[0] + ", " + source_files()[1] + ", " + source_files()[2] +
                    "); run tools/fetch-faces, which puts them into " + default_sources_dir().string() +
                    ", or give --sources DIR");
  prepare_out(options.out);
  const Plan plan = make_plan(pre, options.seed, sources, options.warn);
  const auto& domains = plan.preset.domains;  // with the shift knobs applied and the twins appended

  // One face model per subject; a twin domain's subject renders with its original's.
  std::vector<std::unique_ptr<FaceModel>> own(plan.subjects.size());
  arena.execute([&] {
    tbb::parallel_for(size_t(0), plan.subjects.size(), [&](size_t i) {
      const SubjectPlan& s = plan.subjects[i];
      if (s.original == size_t(-1))
        own[i] = std::make_unique<FaceModel>(sources.faces[s.face], s, domains[s.domain]);
    });
  });
  std::vector<const FaceModel*> models(plan.subjects.size());
  for (size_t i = 0; i < models.size(); ++i) {
    const size_t o = plan.subjects[i].original;
    models[i] = own[o == size_t(-1) ? i : o].get();
  }

  if (options.progress) options.progress(0, plan.clips.size());
  std::atomic<size_t> done{0};
  std::mutex progress_mutex;
  std::vector<size_t> frames_written(plan.clips.size(), 0);
  arena.execute([&] {
    tbb::parallel_for(size_t(0), plan.clips.size(), [&](size_t i) {
      const ClipPlan& c = plan.clips[i];
      const DomainSpec& d = domains[c.domain];
      const fs::path folder = options.out / clip_folder(plan, c);
      fs::create_directories(folder);
      cv::RNG noise(c.seed);
      const std::vector<int> params =
          d.adapter == "smic_hs" ? std::vector<int>{} : std::vector<int>{cv::IMWRITE_JPEG_QUALITY, 95};
      for (int k = 0; k < c.frames(); ++k) {
        const cv::Mat frame = models[c.subject]->render(c, k, noise);
        const fs::path file = folder / frame_name(plan, c, c.onset + k);
        if (!cv::imwrite(file.string(), frame, params))
          throw std::runtime_error("cannot write " + file.string());
      }
      write_openface(options.out, plan, c);
      frames_written[i] = size_t(c.frames());
      const size_t n = ++done;
      if (options.progress) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        options.progress(n, plan.clips.size());
      }
    });
  });

  std::vector<double> iods;
  for (const auto& m : models) iods.push_back(m->iod());
  write_sheets(options.out, plan);
  write_ground_truth(options.out, plan, sources.faces, iods);

  SynthSummary summary;
  for (size_t d = 0; d < domains.size(); ++d) {
    DomainSummary ds;
    ds.name = domains[d].name;
    ds.adapter = domains[d].adapter;
    std::set<size_t> subjects;
    for (const auto& cls : domains[d].classes) ds.classes[cls.name] = 0;
    for (size_t i = 0; i < plan.clips.size(); ++i) {
      const ClipPlan& c = plan.clips[i];
      if (c.domain != d) continue;
      ++ds.clips;
      ++ds.classes[c.cls];
      ds.frames += frames_written[i];
      subjects.insert(c.subject);
    }
    ds.subjects = subjects.size();
    summary.domains.push_back(ds);
  }
  write_index(options.out, plan, sources, summary.domains);
  summary.sources_used = sources.used;
  summary.sources_missing = sources.missing;
  for (const auto& f : sources.faces) summary.base_faces.push_back(f.label);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

std::vector<DatasetSource> corpus_sources(const std::filesystem::path& corpus) {
  const std::filesystem::path file = corpus / "datasets.json";
  std::ifstream in(file);
  if (!in) throw UserError(file.string() + ": cannot read (is " + corpus.string() + " a merx synth corpus?)");
  try {
    const auto fragment = nlohmann::json::parse(in);
    std::vector<DatasetSource> out;
    for (const auto& d : fragment.at("datasets")) {
      DatasetSource s;
      s.name = d.at("name").get<std::string>();
      s.adapter = d.at("adapter").get<std::string>();
      s.root = std::filesystem::absolute(corpus / d.at("root").get<std::string>());
      if (d.contains("annotations"))
        s.annotations = std::filesystem::absolute(corpus / d.at("annotations").get<std::string>());
      s.options = d.value("options", nlohmann::json::object());
      out.push_back(std::move(s));
    }
    return out;
  } catch (const nlohmann::json::exception& e) {
    throw UserError(file.string() + ": not a merx synth datasets.json: " + e.what());
  }
}

}  // namespace merx::synth
