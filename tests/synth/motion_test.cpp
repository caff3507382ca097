// The rendered motion is what the annotations and the ground truth claim, measured with the preprocessing
// part's tools only (dlib landmarks on the onset frame, TV-L1 flow, the merx prep pipeline): FACS says
// AU1+AU2 raise the brows and AU12 pulls the lip corners up and out; the apex is where the motion peaks; and
// the classes are separable within a domain but shift across domains (issue 5, check 6).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "common/nearest_centroid.h"
#include "corpus.h"
#include "merx/datasets/load.h"
#include "merx/preprocessing/face.h"
#include "merx/preprocessing/preprocess.h"
#include "merx/preprocessing/stages.h"
#include "merx/synth/synth.h"

using namespace merx;
using namespace merx::test;

namespace {

std::vector<LoadResult> load_all(const std::string& labels = "native") {
  std::vector<LoadResult> out;
  for (const DatasetSource& s : merx::synth::corpus_sources(tiny_corpus())) {
    LoadOptions o;
    o.labels.name = labels;
    out.push_back(load_dataset(s, o));
  }
  return out;
}

// Mean flow (u, v) over the pixels of `flow` (CV_32FC2) inside `mask` (CV_8U).
cv::Point2d mean_flow(const cv::Mat& flow, const cv::Mat& mask) {
  const cv::Scalar m = cv::mean(flow, mask);
  return {m[0], m[1]};
}

cv::Mat box_mask(cv::Size size, const std::vector<cv::Point2f>& pts, int from, int to, float pad_x,
                 float pad_y) {
  float x0 = 1e9f, y0 = 1e9f, x1 = -1e9f, y1 = -1e9f;
  for (int i = from; i <= to; ++i) {
    x0 = std::min(x0, pts[i].x), x1 = std::max(x1, pts[i].x);
    y0 = std::min(y0, pts[i].y), y1 = std::max(y1, pts[i].y);
  }
  cv::Mat m = cv::Mat::zeros(size, CV_8UC1);
  cv::rectangle(m, cv::Point(cvRound(x0 - pad_x), cvRound(y0 - pad_y)),
                cv::Point(cvRound(x1 + pad_x), cvRound(y1 + pad_y)), cv::Scalar(255), cv::FILLED);
  return m;
}

cv::Mat disc_mask(cv::Size size, cv::Point2f c, float r) {
  cv::Mat m = cv::Mat::zeros(size, CV_8UC1);
  cv::circle(m, cv::Point(cvRound(c.x), cvRound(c.y)), std::max(2, cvRound(r)), cv::Scalar(255), cv::FILLED);
  return m;
}

// The flow relative to the head: minus the median flow of the face box (removes the rigid drift).
cv::Mat relative_to_head(const cv::Mat& flow, const cv::Mat& face) {
  std::vector<cv::Mat> uv;
  cv::split(flow, uv);
  for (auto& ch : uv) {
    std::vector<float> vals;
    for (int y = 0; y < ch.rows; ++y)
      for (int x = 0; x < ch.cols; ++x)
        if (face.at<uchar>(y, x)) vals.push_back(ch.at<float>(y, x));
    std::nth_element(vals.begin(), vals.begin() + vals.size() / 2, vals.end());
    ch -= vals[vals.size() / 2];
  }
  cv::Mat out;
  cv::merge(uv, out);
  return out;
}

// Where an AU moves the face (FACS regions over the iBUG landmarks), as a mask.
cv::Mat au_region(cv::Size size, const std::vector<cv::Point2f>& p, int au, float iod) {
  switch (au) {
    case 1:
    case 2:
    case 4:
      return box_mask(size, p, 17, 26, 0.05f * iod, 0.15f * iod);  // brows
    case 5:
    case 6:
    case 7:
    case 45:
      return box_mask(size, p, 36, 47, 0.1f * iod, 0.15f * iod);  // eyes
    case 9:
    case 10:
      return box_mask(size, p, 27, 35, 0.1f * iod, 0.1f * iod) |
             box_mask(size, p, 48, 54, 0.05f * iod, 0.1f * iod);
    case 17:
    case 26:
      return box_mask(size, p, 5, 11, 0.05f * iod, 0.1f * iod) |
             box_mask(size, p, 48, 67, 0.05f * iod, 0.1f * iod);
    default:
      return box_mask(size, p, 48, 67, 0.1f * iod, 0.1f * iod);  // mouth
  }
}

struct Clip {
  const SampleRecord* sample;
  CsvRow truth;
  size_t apex_index;  // position of the true apex in sample->frames
};

std::vector<Clip> clips_where(const std::vector<LoadResult>& all,
                              const std::function<bool(const CsvRow&)>& keep) {
  const auto truth = truth_by_key(tiny_corpus());
  std::vector<Clip> out;
  for (const auto& ds : all)
    for (const auto& s : ds.samples) {
      const CsvRow& t = truth.at(s.key);
      if (keep(t)) out.push_back({&s, t, size_t(std::stoll(t.at("apex")) - s.onset)});
    }
  return out;
}

struct Landmarked {
  std::vector<cv::Point2f> points;
  double iod = 0;
};

Landmarked landmarks(const cv::Mat& gray) {
  const auto face = prep::detect_face(prep::to_gray_u8(gray), "dlib_hog");
  REQUIRE_MESSAGE(face.has_value(), "dlib finds no face in the onset frame");
  const auto [l, r] = prep::eye_centres(face->points);
  return {face->points, cv::norm(r - l)};
}

}  // namespace

TEST_CASE("brow flow of AU1+AU2 clips points up and lip-corner flow of AU12 clips points up and out") {
  const auto all = load_all();
  // AU1+AU2 without AU4 (the brow lowerer works against them, as in fear's AU1+AU2+AU4).
  auto brows_raised = [](const CsvRow& t) { return has_au(t, 1) && has_au(t, 2) && !has_au(t, 4); };
  const auto clips = clips_where(all, [&](const CsvRow& t) { return brows_raised(t) || has_au(t, 12); });
  REQUIRE(clips.size() >= 30);
  struct Result {
    bool brows = false, lips = false;
    cv::Point2d brow, left, right;
    char side = 0;
  };
  std::vector<Result> results(clips.size());
  prep::RecipeConfig config;  // TV-L1 with OpenCV's defaults
  tbb::enumerable_thread_specific<prep::FlowEstimator> flows([&] { return prep::FlowEstimator(config); });
  tbb::parallel_for(size_t(0), clips.size(), [&](size_t i) {
    const Clip& c = clips[i];
    const cv::Mat onset = prep::read_gray(c.sample->frames.front());
    const cv::Mat apex = prep::read_gray(c.sample->frames.at(c.apex_index));
    const Landmarked lm = landmarks(onset);
    const float u = float(lm.iod);
    const cv::Mat face = box_mask(onset.size(), lm.points, 0, 67, 0.1f * u, 0.3f * u);
    const cv::Mat flow = relative_to_head(flows.local().compute(onset, apex), face);
    Result& r = results[i];
    if (brows_raised(c.truth)) {
      r.brows = true;
      r.brow = mean_flow(flow, box_mask(onset.size(), lm.points, 17, 26, 0.05f * u, 0.12f * u));
    }
    if (has_au(c.truth, 12)) {
      r.lips = true;
      const std::string aus = c.truth.at("aus");
      r.side = aus.find("R12") != std::string::npos ? 'R' : aus.find("L12") != std::string::npos ? 'L' : 0;
      r.left = mean_flow(flow, disc_mask(onset.size(), lm.points[48], 0.12f * u));   // image left corner
      r.right = mean_flow(flow, disc_mask(onset.size(), lm.points[54], 0.12f * u));  // image right corner
    }
  });
  size_t brows = 0, brows_up = 0, corners = 0, corners_ok = 0;
  for (size_t i = 0; i < clips.size(); ++i) {
    const Result& r = results[i];
    if (verbose())
      MESSAGE(clips[i].sample->key << " " << clips[i].truth.at("aus") << " brow " << r.brow << " left "
                                   << r.left << " right " << r.right);
    if (r.brows) {
      ++brows;
      // Up (image y decreases) and mostly vertical.
      if (r.brow.y < 0 && std::abs(r.brow.y) > std::abs(r.brow.x)) ++brows_up;
    }
    if (r.lips) {
      // The subject's right corner is on the image's left: up-and-out there is (-u, -v).
      if (r.side != 'L') {
        ++corners;
        if (r.left.x < 0 && r.left.y < 0) ++corners_ok;
      }
      if (r.side != 'R') {
        ++corners;
        if (r.right.x > 0 && r.right.y < 0) ++corners_ok;
      }
    }
  }
  MESSAGE("AU1+AU2 brows up: " << brows_up << "/" << brows << "; AU12 corners up and out: " << corners_ok
                               << "/" << corners);
  REQUIRE(brows >= 15);
  REQUIRE(corners >= 20);
  // Sensor noise can hide the weakest clip; nearly all must show the FACS direction.
  CHECK(double(brows_up) / double(brows) >= 0.95);
  CHECK(double(corners_ok) / double(corners) >= 0.95);
}

TEST_CASE("the annotated onset frame is still and the motion peaks at the annotated apex") {
  const auto all = load_all();
  // Clips without a blink (a blink after the expression is a bigger motion elsewhere), four per domain.
  std::map<std::string, int> taken;
  const auto clips = clips_where(
      all, [&](const CsvRow& t) { return t.at("blink_onset").empty() && taken[t.at("dataset")]++ < 4; });
  REQUIRE(clips.size() == 12);
  std::vector<std::vector<double>> motion(clips.size());
  prep::RecipeConfig config;  // TV-L1 with 3 scales and 3 warps: motions of a few pixels; 2.5x faster
  config.tvl1.nscales = 3;
  config.tvl1.warps = 3;
  tbb::enumerable_thread_specific<prep::FlowEstimator> flows([&] { return prep::FlowEstimator(config); });
  tbb::parallel_for(size_t(0), clips.size(), [&](size_t i) {
    const Clip& c = clips[i];
    const cv::Mat onset = prep::read_gray(c.sample->frames.front());
    const Landmarked lm = landmarks(onset);
    const float u = float(lm.iod);
    const cv::Mat face = box_mask(onset.size(), lm.points, 0, 67, 0.1f * u, 0.3f * u);
    cv::Mat region = cv::Mat::zeros(onset.size(), CV_8UC1);
    for (int au : truth_aus(c.truth)) region |= au_region(onset.size(), lm.points, au, u);
    for (size_t k = 1; k < c.sample->frames.size(); ++k) {
      const cv::Mat flow =
          relative_to_head(flows.local().compute(onset, prep::read_gray(c.sample->frames[k])), face);
      std::vector<cv::Mat> uv;
      cv::split(flow, uv);
      cv::Mat mag;
      cv::magnitude(uv[0], uv[1], mag);
      motion[i].push_back(cv::mean(mag, region)[0]);  // motion[i][k - 1]: in the clip's AU regions
    }
  });
  for (size_t i = 0; i < clips.size(); ++i) {
    const Clip& c = clips[i];
    CAPTURE(c.sample->key);
    const auto& m = motion[i];
    const size_t peak = size_t(std::max_element(m.begin(), m.end()) - m.begin()) + 1;
    // The apex the sheet gives (CASME II, SAMM) or, for SMIC (no apex coded), the true one.
    const size_t apex = c.sample->apex && !c.sample->apex_estimated
                            ? size_t(*c.sample->apex - c.sample->onset)
                            : c.apex_index;
    if (verbose()) {
      std::string s;
      for (double v : m) s += " " + std::to_string(v).substr(0, 5);
      MESSAGE(c.sample->key << " apex " << apex << " peak " << peak << ":" << s);
    }
    CHECK(std::abs(int(peak) - int(apex)) <= 1);
    CHECK(m.front() < 0.5 * m[peak - 1]);  // the frame after the onset is still neutral
  }
}

TEST_CASE("nearest centroid on flow features beats chance within a domain and scores lower across domains") {
  using merx::test::Item;
  const auto all = load_all("megc3");
  // merx prep's pipeline: landmarks on the onset frame, eye alignment, TV-L1 onset -> apex (SMIC: the
  // midpoint apex), flow resized to 8 x 8: 128 features per clip (pixels of the 8 x 8 grid).
  prep::RecipeConfig config;
  config.recipe = "flow_uv";
  config.size = 8;
  config.flow_size = 64;
  const prep::Preprocessor pre(config);
  std::vector<const SampleRecord*> samples;
  std::vector<size_t> domain_of;
  for (size_t d = 0; d < all.size(); ++d)
    for (const auto& s : all[d].samples) samples.push_back(&s), domain_of.push_back(d);
  std::vector<Item> items(samples.size());
  tbb::parallel_for(size_t(0), samples.size(), [&](size_t i) {
    const auto r = pre.run(*samples[i]);
    Item& it = items[i];
    it.domain = domain_of[i];
    it.subject = samples[i]->global_subject;
    const auto& classes = megc3_classes();
    it.label = int(std::find(classes.begin(), classes.end(), *samples[i]->label) - classes.begin());
    for (float v : r.data) it.x.push_back(v);
  });
  double within_sum = 0, cross_sum = 0;
  for (size_t d = 0; d < 3; ++d) {
    std::vector<int> truth, within, cross;
    for (const Item& x : items) {
      if (x.domain != d) continue;
      std::vector<const Item*> same_domain_other_subjects, other_domains;  // LOSO, and train on the other two
      for (const Item& t : items) {
        if (t.domain == d && t.subject != x.subject) same_domain_other_subjects.push_back(&t);
        if (t.domain != d) other_domains.push_back(&t);
      }
      truth.push_back(x.label);
      within.push_back(merx::test::nearest_centroid(same_domain_other_subjects, x));
      cross.push_back(merx::test::nearest_centroid(other_domains, x));
    }
    const double w = merx::test::uar3(truth, within), c = merx::test::uar3(truth, cross);
    MESSAGE(all[d].dataset << ": within-domain LOSO UAR " << w << ", trained on the other two domains " << c);
    CHECK(w > 0.5);  // chance is 1/3
    within_sum += w;
    cross_sum += c;
  }
  CHECK(cross_sum / 3 < within_sum / 3 - 0.05);
}
