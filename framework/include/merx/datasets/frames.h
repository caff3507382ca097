// Listing the frame images of one clip folder, in frame order.
//
// Frame files are named with a frame number in many styles across corpora: img46.jpg (CASME II),
// reg_img46.jpg, image000123.bmp (SMIC), EP01_5-12.jpg (CASME), 006_1_2_0007.jpg (SAMM), 166.jpg
// (CAS(ME)^3). The number is the LAST run of ASCII digits in the file stem, so img2 < img10 and
// prefixes that contain digits (006_1_2_, EP01_5-) do not matter.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace merx {

struct FrameFile {
  std::filesystem::path path;  // folder / file name (the name exactly as on disk)
  int64_t number = 0;          // frame number parsed from the name
};

/// The image files of `folder` (extensions .jpg .jpeg .png .bmp .tif .tiff, case-insensitive), sorted by
/// frame number ascending. Mixed extensions in one folder are fine. A name with spaces before the extension
/// ("img12 .jpg") counts as its trimmed stem ("img12"). Ignored: non-image files, sub-folders, hidden files
/// (".*", e.g. macOS "._img1.jpg").
/// `pattern` (optional) restricts the listing to names of the form PREFIX{N}SUFFIX, e.g. "img{N}.jpg" or
/// "reg_img{N}.jpg"; {N} matches one or more digits (any padding) and gives the frame number; the suffix's
/// extension part matches case-insensitively; other image files are then ignored. An empty pattern takes
/// every image file and the last digit run of its stem.
/// Throws UserError naming the folder when it does not exist or is not a directory, naming the file when an
/// image file has no digits in its stem (empty pattern) and naming both files when two have the same number
/// ("img1.jpg" and "img01.png"). An existing folder with no image files gives an empty vector (the caller
/// decides whether that is an error, with the clip's context).
std::vector<FrameFile> list_frames(const std::filesystem::path& folder, const std::string& pattern = "");

/// The frame number of a file name (extension and spaces before it removed): its last run of ASCII
/// digits, or -1 when it has none or the digits exceed int64. "img46.jpg" -> 46, "006_1_2_0007.jpg" -> 7,
/// "img12 .jpg" -> 12.
int64_t frame_number(const std::string& file_name);

/// True when `file_name` has one of the image extensions above (case-insensitive).
bool is_image_file(const std::string& file_name);

/// What is wrong with one frame file, judged from its size and at most 16 leading and 64 trailing bytes —
/// no decoding, so checking every frame of a corpus costs one open and two small reads per file. The type
/// comes from the leading bytes (as OpenCV's imread decides), not from the extension:
///   JPEG (FF D8)   the end-of-image marker FF D9 must be among the last 64 bytes (it cannot occur inside
///                  the entropy-coded data, so its absence means the file was cut short; padding after it
///                  is tolerated);
///   PNG            the IEND chunk type must be among the last 64 bytes;
///   BMP ("BM")     the file must be at least as long as the size its header declares;
///   TIFF           not checked beyond being non-empty (its directory may sit anywhere).
/// Returns "" when nothing is wrong, else what is ("is empty (0 bytes)", "is truncated: a JPEG without
/// its end marker FF D9", ...), to follow the file's path in a message. Never throws.
std::string frame_file_problem(const std::filesystem::path& file);

}  // namespace merx
