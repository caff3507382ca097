// The animated face: a subject's source image in its domain's frame, a mesh over the 68 iBUG landmarks plus
// virtual points (forehead, cheeks, neck) and points outside the frame border, its Delaunay triangulation
// (cv::Subdiv2D), FACS AU templates as displacement fields over the mesh, and the piecewise-affine warp
// that renders each frame (one affine map per triangle, from the frame's mesh back to the source mesh,
// then one cv::remap).
//
// AU templates (docs/demo-corpus.md lists them): each entry moves one mesh point by (out, down) in units of
// 1 % of the inter-ocular distance (IOD) per intensity unit, `out` pointing away from the face's midline and
// `down` towards the chin, so that intensity 5 moves the template's strongest point by 5 % of the IOD (the
// 1-5 % range of micro-expressions at the apex). Regions and directions follow the FACS manual's
// descriptions (Ekman, Friesen & Hager 2002): e.g. AU1 raises the inner brows, AU12 pulls the lip corners
// up and out, AU15 pulls them down.
#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

#include "synth/internal.h"

namespace merx::synth::detail {
namespace {

constexpr int kLandmarks = 68;
constexpr int kForehead = 68;  // 10 points above the brows (17..26)
constexpr int kCheek = 78;     // 78 upper / 79 lower cheek, image left; 80 / 81 image right
constexpr int kNeck = 82;      // 3 points below the chin (7, 8, 9)
constexpr int kBorder = 85;    // 16 points outside the frame
constexpr int kMeshSize = kBorder + 16;

// iBUG 68 index of the same point on the mirrored face.
int mirrored(int i) {
  if (i <= 16) return 16 - i;                          // jaw
  if (i <= 26) return 43 - i;                          // brows 17..26
  if (i <= 30) return i;                               // nose bridge
  if (i <= 35) return 66 - i;                          // nostrils 31..35
  static const int eyes[] = {45, 44, 43, 42, 47, 46};  // 36..41 -> right eye
  if (i <= 41) return eyes[i - 36];
  if (i <= 47) {
    for (int k = 0; k < 6; ++k)
      if (eyes[k] == i) return 36 + k;
  }
  if (i <= 54) return 102 - i;  // outer upper lip 48..54
  if (i <= 59) return 114 - i;  // outer lower lip 55..59
  if (i <= 64) return 124 - i;  // inner upper lip 60..64
  return 132 - i;               // inner lower lip 65..67
}

struct TemplatePoint {
  int point;
  float out, down;
};

// Per animated AU: the points it moves. Indices: 0..67 iBUG (0-based), 68.. virtual (see constants).
const std::map<int, std::vector<TemplatePoint>>& templates() {
  static const std::map<int, std::vector<TemplatePoint>> t = {
      // AU1 inner brow raiser: inner brow ends up, a little towards the midline; forehead above them.
      {1,
       {{21, -0.1f, -1.0f},
        {22, -0.1f, -1.0f},
        {20, 0, -0.7f},
        {23, 0, -0.7f},
        {19, 0, -0.35f},
        {24, 0, -0.35f},
        {18, 0, -0.1f},
        {25, 0, -0.1f},
        {kForehead + 4, 0, -0.35f},
        {kForehead + 5, 0, -0.35f},
        {kForehead + 3, 0, -0.2f},
        {kForehead + 6, 0, -0.2f}}},
      // AU2 outer brow raiser: outer brow up, upper lids follow slightly.
      {2,
       {{17, 0, -0.9f},
        {26, 0, -0.9f},
        {18, 0, -1.0f},
        {25, 0, -1.0f},
        {19, 0, -0.7f},
        {24, 0, -0.7f},
        {20, 0, -0.3f},
        {23, 0, -0.3f},
        {kForehead + 0, 0, -0.3f},
        {kForehead + 1, 0, -0.3f},
        {kForehead + 8, 0, -0.3f},
        {kForehead + 9, 0, -0.3f},
        {37, 0, -0.15f},
        {38, 0, -0.15f},
        {43, 0, -0.15f},
        {44, 0, -0.15f}}},
      // AU4 brow lowerer: brows down and drawn together; upper lids pushed down.
      {4,
       {{21, -0.6f, 0.8f},
        {22, -0.6f, 0.8f},
        {20, -0.4f, 0.9f},
        {23, -0.4f, 0.9f},
        {19, -0.2f, 0.7f},
        {24, -0.2f, 0.7f},
        {18, 0, 0.45f},
        {25, 0, 0.45f},
        {17, 0, 0.2f},
        {26, 0, 0.2f},
        {kForehead + 4, -0.3f, 0.3f},
        {kForehead + 5, -0.3f, 0.3f},
        {37, 0, 0.25f},
        {38, 0, 0.25f},
        {43, 0, 0.25f},
        {44, 0, 0.25f},
        {27, 0, 0.1f}}},
      // AU5 upper lid raiser.
      {5, {{37, 0, -1.0f}, {38, 0, -1.0f}, {43, 0, -1.0f}, {44, 0, -1.0f}, {36, 0, -0.2f}, {45, 0, -0.2f}}},
      // AU6 cheek raiser: cheeks and lower lids up, outer eye corners up and in.
      {6,
       {{40, 0, -0.7f},
        {41, 0, -0.7f},
        {46, 0, -0.7f},
        {47, 0, -0.7f},
        {36, -0.1f, -0.3f},
        {45, -0.1f, -0.3f},
        {kCheek + 0, 0, -0.8f},
        {kCheek + 2, 0, -0.8f},
        {kCheek + 1, 0, -0.5f},
        {kCheek + 3, 0, -0.5f},
        {17, 0, 0.15f},
        {26, 0, 0.15f}}},
      // AU7 lid tightener: lower lids up, upper lids a little down.
      {7,
       {{40, 0, -0.8f},
        {41, 0, -0.8f},
        {46, 0, -0.8f},
        {47, 0, -0.8f},
        {37, 0, 0.3f},
        {38, 0, 0.3f},
        {43, 0, 0.3f},
        {44, 0, 0.3f}}},
      // AU9 nose wrinkler: nostril wings and upper lip up, inner brows pulled down.
      {9,
       {{31, 0.1f, -0.8f},
        {35, 0.1f, -0.8f},
        {32, 0, -0.6f},
        {34, 0, -0.6f},
        {33, 0, -0.4f},
        {30, 0, -0.3f},
        {29, 0, -0.2f},
        {21, -0.2f, 0.35f},
        {22, -0.2f, 0.35f},
        {50, 0, -0.35f},
        {52, 0, -0.35f},
        {51, 0, -0.25f},
        {49, 0, -0.2f},
        {53, 0, -0.2f},
        {kCheek + 0, 0, -0.2f},
        {kCheek + 2, 0, -0.2f}}},
      // AU10 upper lip raiser.
      {10,
       {{50, 0, -1.0f},
        {52, 0, -1.0f},
        {51, 0, -0.8f},
        {49, 0, -0.7f},
        {53, 0, -0.7f},
        {48, 0, -0.25f},
        {54, 0, -0.25f},
        {31, 0, -0.3f},
        {35, 0, -0.3f},
        {32, 0, -0.2f},
        {33, 0, -0.2f},
        {34, 0, -0.2f},
        {kCheek + 1, 0, -0.2f},
        {kCheek + 3, 0, -0.2f}}},
      // AU12 lip corner puller: corners up and out, cheeks follow.
      {12,
       {{48, 0.8f, -0.6f},
        {54, 0.8f, -0.6f},
        {49, 0.35f, -0.35f},
        {53, 0.35f, -0.35f},
        {59, 0.35f, -0.3f},
        {55, 0.35f, -0.3f},
        {50, 0, -0.1f},
        {52, 0, -0.1f},
        {58, 0, -0.1f},
        {56, 0, -0.1f},
        {kCheek + 1, 0.2f, -0.45f},
        {kCheek + 3, 0.2f, -0.45f},
        {kCheek + 0, 0, -0.2f},
        {kCheek + 2, 0, -0.2f}}},
      // AU14 dimpler: corners tightened and drawn sideways (into the cheek), lips flatten.
      {14,
       {{48, 0.6f, -0.1f},
        {54, 0.6f, -0.1f},
        {49, 0.25f, 0},
        {53, 0.25f, 0},
        {59, 0.25f, 0},
        {55, 0.25f, 0},
        {51, 0, 0.1f},
        {57, 0, -0.1f},
        {kCheek + 1, 0.1f, 0},
        {kCheek + 3, 0.1f, 0}}},
      // AU15 lip corner depressor.
      {15,
       {{48, 0.1f, 0.9f},
        {54, 0.1f, 0.9f},
        {59, 0, 0.5f},
        {55, 0, 0.5f},
        {49, 0, 0.3f},
        {53, 0, 0.3f},
        {58, 0, 0.2f},
        {56, 0, 0.2f},
        {kCheek + 1, 0, 0.2f},
        {kCheek + 3, 0, 0.2f}}},
      // AU17 chin raiser: chin boss and lower lip pushed up, corners drop a little.
      {17,
       {{57, 0, -0.8f},
        {56, 0, -0.75f},
        {58, 0, -0.75f},
        {55, 0, -0.5f},
        {59, 0, -0.5f},
        {8, 0, -0.6f},
        {7, 0, -0.6f},
        {9, 0, -0.6f},
        {6, 0, -0.3f},
        {10, 0, -0.3f},
        {kNeck + 1, 0, -0.2f},
        {48, 0, 0.15f},
        {54, 0, 0.15f}}},
      // AU25 lips part: lower lip down.
      {25,
       {{56, 0, 0.8f},
        {57, 0, 0.8f},
        {58, 0, 0.8f},
        {55, 0, 0.5f},
        {59, 0, 0.5f},
        {50, 0, -0.15f},
        {51, 0, -0.15f},
        {52, 0, -0.15f}}},
      // AU26 jaw drop: chin, jaw and lower lip down.
      {26, {{8, 0, 1.0f},        {7, 0, 0.95f},  {9, 0, 0.95f},  {6, 0, 0.8f},         {10, 0, 0.8f},
            {5, 0, 0.6f},        {11, 0, 0.6f},  {4, 0, 0.35f},  {12, 0, 0.35f},       {3, 0, 0.15f},
            {13, 0, 0.15f},      {56, 0, 0.9f},  {57, 0, 0.9f},  {58, 0, 0.9f},        {55, 0, 0.75f},
            {59, 0, 0.75f},      {48, 0, 0.35f}, {54, 0, 0.35f}, {kNeck + 0, 0, 0.5f}, {kNeck + 1, 0, 0.5f},
            {kNeck + 2, 0, 0.5f}}},
  };
  return t;
}

cv::Point2f mean_of(const std::vector<cv::Point2f>& p, int from, int to) {
  cv::Point2f m(0, 0);
  for (int i = from; i <= to; ++i) m += p[i];
  return m * (1.0f / float(to - from + 1));
}

// 2x3 similarity (with an optional horizontal flip) that sends base points a -> A and b -> B.
cv::Matx23d similarity(cv::Point2d a, cv::Point2d b, cv::Point2d A, cv::Point2d B, bool flip) {
  if (flip) a.x = -a.x, b.x = -b.x;
  // complex: z' = k w + t with k = (B - A) / (b - a)
  const double wx = b.x - a.x, wy = b.y - a.y, Wx = B.x - A.x, Wy = B.y - A.y;
  const double d = wx * wx + wy * wy;
  if (!(d > 0)) throw std::invalid_argument("synth: coincident eye centres");
  const double kr = (Wx * wx + Wy * wy) / d, ki = (Wy * wx - Wx * wy) / d;
  const double tx = A.x - (kr * a.x - ki * a.y), ty = A.y - (ki * a.x + kr * a.y);
  const double f = flip ? -1 : 1;  // x enters as -x
  return cv::Matx23d(kr * f, -ki, tx, ki * f, kr, ty);
}

// Inverse-affine of a triangle: the 2x3 map that sends the frame triangle d back onto the source triangle s.
bool triangle_map(const cv::Point2f* d, const cv::Point2f* s, cv::Matx23d& m) {
  const double a = d[1].x - d[0].x, b = d[2].x - d[0].x, c = d[1].y - d[0].y, e = d[2].y - d[0].y;
  const double det = a * e - b * c;
  if (std::abs(det) < 1e-9) return false;
  // barycentric (l1, l2) of p: [a b; c e]^-1 (p - d0)
  const double i00 = e / det, i01 = -b / det, i10 = -c / det, i11 = a / det;
  const double sx1 = s[1].x - s[0].x, sx2 = s[2].x - s[0].x, sy1 = s[1].y - s[0].y, sy2 = s[2].y - s[0].y;
  const double m00 = sx1 * i00 + sx2 * i10, m01 = sx1 * i01 + sx2 * i11;
  const double m10 = sy1 * i00 + sy2 * i10, m11 = sy1 * i01 + sy2 * i11;
  m = cv::Matx23d(m00, m01, s[0].x - m00 * d[0].x - m01 * d[0].y, m10, m11,
                  s[0].y - m10 * d[0].x - m11 * d[0].y);
  return true;
}

}  // namespace

FaceModel::FaceModel(const BaseFace& face, const SubjectPlan& subject, const DomainSpec& domain)
    : domain_(&domain) {
  const int W = domain.width, H = domain.height;
  // ---- crop, scale, roll and mirror: base eye centres -> the domain's eye positions ----
  cv::Mat base = face.image;
  std::vector<cv::Point2f> lm = face.landmarks;
  auto [el, er] = std::pair{mean_of(lm, 36, 41), mean_of(lm, 42, 47)};
  const double target_iod = domain.iod * subject.scale;
  const double base_iod = cv::norm(er - el);
  // Downscale with area averaging first, so that the affine warp does not alias.
  const double r = target_iod / base_iod * 1.3;
  if (r < 1) {
    cv::resize(face.image, base, cv::Size(), r, r, cv::INTER_AREA);
    for (auto& p : lm) p = cv::Point2f(float((p.x + 0.5) * r - 0.5), float((p.y + 0.5) * r - 0.5));
    el = mean_of(lm, 36, 41), er = mean_of(lm, 42, 47);
  }
  const double roll = subject.roll * CV_PI / 180;
  const cv::Point2d c(W / 2.0 + subject.dx * target_iod, domain.eye_y * H + subject.dy * target_iod);
  const cv::Point2d half(std::cos(roll) * target_iod / 2, std::sin(roll) * target_iod / 2);
  // Flipped, the base's image-left eye becomes the image-right one.
  const cv::Matx23d M = subject.mirror ? similarity(el, er, c + half, c - half, true)
                                       : similarity(el, er, c - half, c + half, false);
  cv::Mat warped;
  cv::warpAffine(base, warped, cv::Mat(M), cv::Size(W, H), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  std::vector<cv::Point2f> pts(kLandmarks);
  for (int i = 0; i < kLandmarks; ++i) {
    const cv::Point2f& p = lm[i];
    const cv::Point2f q(float(M(0, 0) * p.x + M(0, 1) * p.y + M(0, 2)),
                        float(M(1, 0) * p.x + M(1, 1) * p.y + M(1, 2)));
    pts[subject.mirror ? mirrored(i) : i] = q;
  }

  // ---- skin tone, gamma, then the domain's camera and light ----
  cv::Mat f;
  warped.convertTo(f, CV_32FC3, 1.0 / 255);
  cv::pow(f, subject.gamma, f);
  std::vector<cv::Mat> ch;
  cv::split(f, ch);
  for (int k = 0; k < 3; ++k) ch[k] *= 255.0 * subject.tone[k] * domain.cast[k];
  cv::merge(ch, f);
  if (domain.gray) cv::cvtColor(f, f, cv::COLOR_BGR2GRAY);
  f.convertTo(f, -1, domain.contrast, 128.0 * (1 - domain.contrast) + domain.brightness);
  if (domain.light_gradient != 0) {
    cv::Mat gain(1, W, CV_32FC1);
    for (int x = 0; x < W; ++x)
      gain.at<float>(x) = float(1 + domain.light_gradient * (2.0 * x / (W - 1) - 1));
    cv::Mat g;
    cv::repeat(gain, H, 1, g);
    if (f.channels() == 3) cv::merge(std::vector<cv::Mat>{g, g, g}, g);
    cv::multiply(f, g, f);
  }
  if (domain.blur > 0) cv::GaussianBlur(f, f, cv::Size(0, 0), domain.blur);
  source_ = f;

  // ---- face axes ----
  el = mean_of(pts, 36, 41), er = mean_of(pts, 42, 47);
  iod_ = cv::norm(er - el);
  const cv::Point2f xhat = (er - el) * float(1 / iod_);
  const cv::Point2f yhat(-xhat.y, xhat.x);  // towards the chin (image y points down)
  const cv::Point2f mid = (el + er) * 0.5f;
  centre_ = (mid + pts[33]) * 0.5f;
  eye_open_ = (cv::norm(pts[37] - pts[41]) + cv::norm(pts[38] - pts[40]) + cv::norm(pts[43] - pts[47]) +
               cv::norm(pts[44] - pts[46])) /
              4;

  // ---- mesh: landmarks, virtual points, border ----
  src_.assign(kMeshSize, cv::Point2f(0, 0));
  std::copy(pts.begin(), pts.end(), src_.begin());
  const float u = float(iod_);
  for (int k = 0; k < 10; ++k) src_[kForehead + k] = pts[17 + k] - yhat * (0.45f * u);
  src_[kCheek + 0] = (pts[41] + pts[1] + pts[31]) * (1.0f / 3);
  src_[kCheek + 1] = (pts[48] + pts[3]) * 0.5f;
  src_[kCheek + 2] = (pts[46] + pts[15] + pts[35]) * (1.0f / 3);
  src_[kCheek + 3] = (pts[54] + pts[13]) * 0.5f;
  for (int k = 0; k < 3; ++k) src_[kNeck + k] = pts[7 + k] + yhat * (0.3f * u);
  const float m = 0.15f * float(std::max(W, H));
  int b = kBorder;
  for (int i = 0; i <= 4; ++i) {
    const float x = -m + i * (W - 1 + 2 * m) / 4;
    src_[b++] = {x, -m};
    src_[b++] = {x, H - 1 + m};
  }
  for (int j = 1; j <= 3; ++j) {
    const float y = -m + j * (H - 1 + 2 * m) / 4;
    src_[b++] = {-m, y};
    src_[b++] = {W - 1 + m, y};
  }
  face_point_.assign(kMeshSize, 1);
  for (int i = kBorder; i < kMeshSize; ++i) face_point_[i] = 0;
  side_.assign(kMeshSize, 0);
  for (int i = 0; i < kBorder; ++i) {
    const float x = (src_[i] - mid).dot(xhat);
    side_[i] = std::abs(x) < 0.04f * u ? 0.f : (x < 0 ? -1.f : 1.f);
  }

  // ---- face-shape morph (subject identity): jaw width, face length, eye spacing, nose width, mouth
  // width, brow height, nose length; coefficients bounded in make_plan ----
  neutral_ = src_;
  auto shift = [&](int i, float out, float down) { neutral_[i] += xhat * (out * side_[i]) + yhat * down; };
  auto widen = [&](int i, double k) {  // scale the distance from the midline by (1 + k)
    neutral_[i] += xhat * float(k * (src_[i] - mid).dot(xhat));
  };
  const auto& mo = subject.morph;
  for (int i = 0; i <= 16; ++i) widen(i, mo[0]);
  const float chin[] = {0.2f, 0.45f, 0.7f, 0.9f, 1.0f, 0.9f, 0.7f, 0.45f, 0.2f};  // points 4..12
  for (int i = 4; i <= 12; ++i) shift(i, 0, float(mo[1]) * u * chin[i - 4]);
  for (int k = 0; k < 3; ++k) shift(kNeck + k, 0, float(mo[1]) * u);
  for (int i = 48; i <= 67; ++i) shift(i, 0, 0.4f * float(mo[1]) * u);
  for (int i = 36; i <= 47; ++i) shift(i, float(mo[2]) * u, 0);
  for (int i = 17; i <= 26; ++i) shift(i, 0.5f * float(mo[2]) * u, -float(mo[5]) * u);
  for (int i = 31; i <= 35; ++i) widen(i, mo[3]);
  for (int i = 48; i <= 67; ++i) widen(i, mo[4]);
  for (int i = 30; i <= 35; ++i) shift(i, 0, float(mo[6]) * u);

  // ---- AU displacement fields at intensity 1 ----
  au_.assign(animated_aus().size(), std::vector<cv::Point2f>(kMeshSize, cv::Point2f(0, 0)));
  for (size_t a = 0; a < animated_aus().size(); ++a) {
    auto it = templates().find(animated_aus()[a]);
    if (it == templates().end()) continue;  // AU45 is geometric (blinks), see mesh_at
    for (const auto& tp : it->second)
      au_[a][tp.point] = (xhat * (tp.out * side_[tp.point]) + yhat * tp.down) * (0.01f * u);
  }

  // ---- Delaunay triangulation of the source mesh (inner lips left out: they coincide with the outer
  // lips when the mouth is closed) ----
  cv::Subdiv2D subdiv(cv::Rect(int(-2 * m) - W, int(-2 * m) - H, 3 * W + int(4 * m), 3 * H + int(4 * m)));
  std::map<std::pair<float, float>, int> index;
  for (int i = 0; i < kMeshSize; ++i) {
    if (i >= 60 && i < kLandmarks) continue;
    bool duplicate = false;
    for (const auto& [key, j] : index)
      if (std::abs(key.first - src_[i].x) < 0.25f && std::abs(key.second - src_[i].y) < 0.25f)
        duplicate = true;
    if (duplicate) continue;
    index[{src_[i].x, src_[i].y}] = i;
    subdiv.insert(src_[i]);
  }
  std::vector<cv::Vec6f> list;
  subdiv.getTriangleList(list);
  for (const auto& t : list) {
    int v[3];
    bool ok = true;
    for (int k = 0; k < 3 && ok; ++k) {
      auto it = index.find({t[2 * k], t[2 * k + 1]});
      ok = it != index.end();
      if (ok) v[k] = it->second;
    }
    if (!ok) continue;
    const cv::Point2f a = src_[v[0]], bb = src_[v[1]], cc = src_[v[2]];
    if (std::abs((bb - a).cross(cc - a)) < 1e-3f) continue;
    triangles_.emplace_back(v[0], v[1], v[2]);
  }
}

std::vector<cv::Point2f> FaceModel::mesh_at(const ClipPlan& clip, int k) const {
  std::vector<cv::Point2f> p = neutral_;
  const double e = clip.envelope(k);
  if (e > 0) {
    for (const auto& a : clip.aus) {
      const size_t idx =
          size_t(std::find(animated_aus().begin(), animated_aus().end(), a.au) - animated_aus().begin());
      if (idx >= au_.size()) continue;
      const float s = float(a.intensity * e);
      for (size_t i = 0; i < p.size(); ++i) {
        float w = 1;
        if (a.side == 'R') w = side_[i] < 0 ? 1.f : side_[i] == 0 ? 0.5f : 0.f;
        if (a.side == 'L') w = side_[i] > 0 ? 1.f : side_[i] == 0 ? 0.5f : 0.f;
        p[i] += au_[idx][i] * (s * w);
      }
    }
  }
  const cv::Point2f el = mean_of(neutral_, 36, 41), er = mean_of(neutral_, 42, 47);
  const cv::Point2f xhat = (er - el) * float(1 / cv::norm(er - el));
  const cv::Point2f yhat(-xhat.y, xhat.x);
  const double closure = clip.blink_closure(k) * clip.blink_intensity / 5;
  if (closure > 0) {
    for (int i : {37, 38, 43, 44}) p[i] += yhat * float(0.9 * closure * eye_open_);
    for (int i : {40, 41, 46, 47}) p[i] -= yhat * float(0.1 * closure * eye_open_);
  }
  // `shift`'s nod: the whole face (mesh points that move with the head, so the texture too) translated
  // towards the chin, following the expression's envelope (peak at the apex).
  if (clip.nod != 0 && e > 0) {
    const cv::Point2f down = yhat * float(clip.nod * e * iod_);
    for (size_t i = 0; i < p.size(); ++i)
      if (face_point_[i]) p[i] += down;
  }
  // Rigid head motion: zero at the first frame, linear drift plus a slow wobble.
  const int n = clip.frames();
  const double t = n > 1 ? double(k) / (n - 1) : 0;
  const double wob = clip.wobble * (std::sin(2.2 * t + clip.wobble_phase) - std::sin(clip.wobble_phase));
  const double tx = (clip.head_tx * t + wob) * iod_, ty = (clip.head_ty * t - 0.5 * wob) * iod_;
  const double th = clip.head_rot * t * CV_PI / 180, cs = std::cos(th), sn = std::sin(th);
  for (size_t i = 0; i < p.size(); ++i) {
    if (!face_point_[i]) continue;
    const double x = p[i].x - centre_.x, y = p[i].y - centre_.y;
    p[i] = cv::Point2f(float(centre_.x + cs * x - sn * y + tx), float(centre_.y + sn * x + cs * y + ty));
  }
  return p;
}

cv::Mat FaceModel::render(const ClipPlan& clip, int k, cv::RNG& noise) const {
  const int W = domain_->width, H = domain_->height;
  const std::vector<cv::Point2f> dst = mesh_at(clip, k);
  // Which triangle covers each pixel (sub-pixel rasterisation, 8 fractional bits), and its inverse map.
  cv::Mat tri(H, W, CV_32SC1, cv::Scalar(-1));
  std::vector<cv::Matx23d> maps(triangles_.size());
  std::vector<char> valid(triangles_.size(), 0);
  for (size_t t = 0; t < triangles_.size(); ++t) {
    const cv::Vec3i& v = triangles_[t];
    const cv::Point2f d[3] = {dst[v[0]], dst[v[1]], dst[v[2]]};
    const cv::Point2f s[3] = {src_[v[0]], src_[v[1]], src_[v[2]]};
    if (!triangle_map(d, s, maps[t])) continue;
    valid[t] = 1;
    cv::Point q[3];
    for (int j = 0; j < 3; ++j) q[j] = cv::Point(cvRound(d[j].x * 256), cvRound(d[j].y * 256));
    cv::fillConvexPoly(tri, q, 3, cv::Scalar(int(t)), cv::LINE_8, 8);
  }
  cv::Mat mx(H, W, CV_32FC1), my(H, W, CV_32FC1);
  for (int y = 0; y < H; ++y) {
    const int* tr = tri.ptr<int>(y);
    float* px = mx.ptr<float>(y);
    float* py = my.ptr<float>(y);
    for (int x = 0; x < W; ++x) {
      const int t = tr[x];
      if (t < 0 || !valid[t]) {
        px[x] = float(x), py[x] = float(y);
        continue;
      }
      const cv::Matx23d& a = maps[t];
      px[x] = float(a(0, 0) * x + a(0, 1) * y + a(0, 2));
      py[x] = float(a(1, 0) * x + a(1, 1) * y + a(1, 2));
    }
  }
  cv::Mat out;
  cv::remap(source_, out, mx, my, cv::INTER_LINEAR, cv::BORDER_REFLECT101);
  // Slow illumination drift, then sensor noise.
  const int n = clip.frames();
  const double gain = 1 + clip.drift * (n > 1 ? double(k) / (n - 1) : 0);
  cv::Mat grain(out.size(), out.type());
  noise.fill(grain, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(domain_->noise));
  out = out * gain + grain;
  cv::Mat u8;
  out.convertTo(u8, out.channels() == 1 ? CV_8UC1 : CV_8UC3);
  return u8;
}

}  // namespace merx::synth::detail
