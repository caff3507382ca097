// Face detection (dlib HOG or OpenCV Haar), 68 landmarks (dlib shape predictor) and the eye-centre
// similarity transform. dlib stays inside this file.
#include "merx/preprocessing/face.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

namespace merx::prep {

FaceModels default_face_models() {
  FaceModels m;
  if (const char* p = std::getenv("MERX_SHAPE_PREDICTOR"); p && *p) m.shape_predictor = p;
  if (const char* p = std::getenv("MERX_HAAR_CASCADE"); p && *p) m.haar_cascade = p;
  return m;
}

namespace {

// The predictor takes about a second to deserialise (100 MB): once per process and path, then shared
// (shape_predictor::operator() is const and keeps no state).
std::shared_ptr<const dlib::shape_predictor> predictor(const std::filesystem::path& path) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const dlib::shape_predictor>> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = loaded[path.string()];
  if (!slot) {
    auto sp = std::make_shared<dlib::shape_predictor>();
    try {
      dlib::deserialize(path.string()) >> *sp;
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot load the 68-point shape predictor " + path.string() + ": " + e.what() +
                               " (Debian package libdlib-data, or set MERX_SHAPE_PREDICTOR)");
    }
    slot = std::move(sp);
  }
  return slot;
}

// Detectors keep scratch state: one per thread.
dlib::frontal_face_detector& hog_detector() {
  thread_local dlib::frontal_face_detector d = dlib::get_frontal_face_detector();
  return d;
}

cv::CascadeClassifier& haar_detector(const std::filesystem::path& path) {
  thread_local std::map<std::string, cv::CascadeClassifier> per_path;
  auto& c = per_path[path.string()];
  if (c.empty() && !c.load(path.string()))
    throw std::runtime_error("cannot load the Haar cascade " + path.string() +
                             " (Debian package opencv-data, or set MERX_HAAR_CASCADE)");
  return c;
}

}  // namespace

std::vector<cv::Point2f> fit_landmarks(const cv::Mat& gray_u8, const cv::Rect& box,
                                       const FaceModels& models) {
  CV_Assert(gray_u8.type() == CV_8UC1);
  const auto sp = predictor(models.shape_predictor);
  const cv::Mat img = gray_u8.isContinuous() ? gray_u8 : gray_u8.clone();
  dlib::cv_image<unsigned char> dimg(img);
  const dlib::rectangle r(box.x, box.y, box.x + box.width - 1, box.y + box.height - 1);
  const dlib::full_object_detection shape = (*sp)(dimg, r);
  std::vector<cv::Point2f> pts;
  pts.reserve(shape.num_parts());
  for (unsigned long i = 0; i < shape.num_parts(); ++i)
    pts.emplace_back(static_cast<float>(shape.part(i).x()), static_cast<float>(shape.part(i).y()));
  return pts;
}

std::optional<FaceDetection> detect_face(const cv::Mat& gray_u8, const std::string& detector,
                                         const FaceModels& models) {
  CV_Assert(gray_u8.type() == CV_8UC1);
  std::vector<cv::Rect> boxes;
  if (detector == "dlib_hog") {
    const cv::Mat img = gray_u8.isContinuous() ? gray_u8 : gray_u8.clone();
    dlib::cv_image<unsigned char> dimg(img);
    for (const auto& r : hog_detector()(dimg))
      boxes.emplace_back(static_cast<int>(r.left()), static_cast<int>(r.top()), static_cast<int>(r.width()),
                         static_cast<int>(r.height()));
  } else if (detector == "haar") {
    haar_detector(models.haar_cascade).detectMultiScale(gray_u8, boxes, 1.1, 5, 0, cv::Size(40, 40));
  } else {
    throw std::invalid_argument("unknown face detector '" + detector + "' (dlib_hog, haar)");
  }
  if (boxes.empty()) return std::nullopt;
  const cv::Rect* best = &boxes[0];
  for (const auto& b : boxes)
    if (b.area() > best->area()) best = &b;
  FaceDetection d;
  d.box = *best;
  d.points = fit_landmarks(gray_u8, d.box, models);
  return d;
}

std::pair<cv::Point2f, cv::Point2f> eye_centres(const std::vector<cv::Point2f>& points) {
  if (points.size() != 68) throw std::invalid_argument("68 landmarks expected");
  cv::Point2f a(0, 0), b(0, 0);
  for (int i = 36; i < 42; ++i) a += points[i];
  for (int i = 42; i < 48; ++i) b += points[i];
  a *= 1.0f / 6;
  b *= 1.0f / 6;
  if (a.x > b.x) std::swap(a, b);
  return {a, b};
}

cv::Mat eye_alignment(const cv::Point2f& left, const cv::Point2f& right, int F, double eye_distance,
                      double eye_height) {
  const double dx = right.x - left.x, dy = right.y - left.y;
  const double d = std::hypot(dx, dy);
  if (!(d > 0)) throw std::invalid_argument("eye centres coincide");
  const double s = eye_distance * F / d;          // target distance / source distance
  const double c = s * dx / d, sn = -s * dy / d;  // rotate the eye line to horizontal
  const double tx = (1.0 - eye_distance) / 2.0 * F, ty = eye_height * F;
  // x' = c x - sn' y ..., written as [a -b; b a] with a = c, b = sn.
  cv::Mat M = (cv::Mat_<double>(2, 3) << c, -sn, 0, sn, c, 0);
  M.at<double>(0, 2) = tx - (c * left.x - sn * left.y);
  M.at<double>(1, 2) = ty - (sn * left.x + c * left.y);
  return M;
}

cv::Mat centre_square(cv::Size image, int F) {
  const int side = std::min(image.width, image.height);
  const double s = static_cast<double>(F) / side;
  const double x0 = (image.width - side) / 2.0, y0 = (image.height - side) / 2.0;
  return (cv::Mat_<double>(2, 3) << s, 0, -x0 * s, 0, s, -y0 * s);
}

cv::Mat warp_crop(const cv::Mat& frame, const cv::Mat& transform, int F) {
  cv::Mat out;
  cv::warpAffine(frame, out, transform, cv::Size(F, F), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

}  // namespace merx::prep
