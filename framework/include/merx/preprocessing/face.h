// Face detection, 68-point landmarks and alignment (methods.md §4). dlib's HOG detector + the 68-point shape
// predictor (iBUG 300-W; libdlib-data, non-commercial research use upstream — see docs/preprocessing.md), or
// OpenCV's Haar cascade (opencv-data) as the detector. Models are loaded once per process and shared.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace merx::prep {

/// Where the models are. Defaults: Debian's paths; environment overrides MERX_SHAPE_PREDICTOR and
/// MERX_HAAR_CASCADE (see default_face_models()).
struct FaceModels {
  std::filesystem::path shape_predictor = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
  std::filesystem::path haar_cascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";
};
FaceModels default_face_models();

struct FaceDetection {
  cv::Rect box;                     // detected face box, pixels of the input image
  std::vector<cv::Point2f> points;  // 68 landmarks (iBUG order, 0-based), pixels of the input image
};

/// Detects the largest face in an 8-bit gray image and fits the 68 landmarks inside its box.
/// detector: "dlib_hog" | "haar". Returns nullopt when no face is found. Throws std::runtime_error when a
/// model file cannot be loaded. Thread-safe (detectors are per thread, the predictor is shared).
std::optional<FaceDetection> detect_face(const cv::Mat& gray_u8, const std::string& detector,
                                         const FaceModels& models = default_face_models());

/// The 68 landmarks fitted inside a given box (used for corpora delivered as face crops: the whole frame).
std::vector<cv::Point2f> fit_landmarks(const cv::Mat& gray_u8, const cv::Rect& box,
                                       const FaceModels& models = default_face_models());

/// Centres of the two eyes (mean of points 36-41 and 42-47): first the one on the image's left.
std::pair<cv::Point2f, cv::Point2f> eye_centres(const std::vector<cv::Point2f>& points);

/// 2x3 similarity transform (CV_64F) from image pixels to the F x F crop that puts the eye centres at
/// ((1 - d)/2 F, h F) and ((1 + d)/2 F, h F), d = eye_distance, h = eye_height.
cv::Mat eye_alignment(const cv::Point2f& left, const cv::Point2f& right, int F, double eye_distance,
                      double eye_height);

/// 2x3 transform (CV_64F) from a w x h image to the F x F crop of its centred square of side min(w, h).
cv::Mat centre_square(cv::Size image, int F);

/// Applies a crop transform to a CV_32FC1 frame: F x F, bilinear, replicated borders.
cv::Mat warp_crop(const cv::Mat& frame, const cv::Mat& transform, int F);

}  // namespace merx::prep
