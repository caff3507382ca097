// flow_images: precomputed flow images instead of frames (e.g. STSTNet's STSNet_whole_norm_u_v_os). Each
// PNG is one clip's input: three 8-bit channels holding u, v and optical strain, already normalised to
// 0..255. Layout (the `folders` option): <root>/{class}/<file>.png by default, or with the subject as a
// folder level, e.g. "{subject}/{class}". The class is the folder name (a native label, mapped like any
// other); the subject comes from the folder or, by default, from the file name through the `subject`
// regex; the clip is the file stem with surrounding whitespace trimmed (STSTNet has `sub05_EP09_05 .png`);
// the path is kept exactly as on disk. Nothing is decoded here: flow_image_problem reads the PNG header.
#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <regex>

#include "datasets/pipeline.h"
#include "merx/datasets/frames.h"

namespace merx::ds {

namespace {

constexpr const char* kDefaultSubject = "^([^_]+)_";

std::string trim(const std::string& s) {
  size_t i = 0, j = s.size();
  while (i < j && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  while (j > i && std::isspace(static_cast<unsigned char>(s[j - 1]))) --j;
  return s.substr(i, j - i);
}

bool is_png_name(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png";
}

void read_flow_images(AdapterContext& ctx) {
  const std::string where = "dataset '" + ctx.dataset + "' options";
  const std::string folders = ctx.option_string("folders", "{class}");
  if (folders.find("{class}") == std::string::npos)
    throw UserError(where + ".folders: '" + folders + "' has no {class} level (e.g. \"{class}\")");
  const bool subject_folder = folders.find("{subject}") != std::string::npos;
  const std::string pattern = ctx.option_string("subject", kDefaultSubject);
  std::regex re;
  try {
    re = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw UserError(where + ".subject: '" + pattern + "' is not a regular expression (" + e.what() + ")");
  }
  if (re.mark_count() != 1)
    throw UserError(where + ".subject: '" + pattern + "' has " + std::to_string(re.mark_count()) +
                    " capture groups; it needs exactly one (the subject id), e.g. \"" + kDefaultSubject +
                    "\"");

  size_t images = 0;
  for (const auto& m : walk_template(ctx.source.root, folders)) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(m.folder, ec))
      if (e.is_regular_file() && is_png_name(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
      return natural_less(a.filename().string(), b.filename().string());
    });
    for (const auto& f : files) {
      ++images;
      ClipRow r;
      r.clip = trim(f.stem().string());
      r.emotion = m.vars.at("class");
      r.codes_aus = false;
      r.input_image = f;
      r.where = f.string();
      if (r.clip.empty()) r.problems.push_back("file name '" + f.filename().string() + "' has an empty stem");
      if (subject_folder) {
        r.subject = m.vars.at("subject");
      } else {
        std::smatch sm;
        if (std::regex_search(r.clip, sm, re) && sm[1].length() > 0)
          r.subject = sm[1].str();
        else
          r.problems.push_back("file name '" + f.filename().string() +
                               "' gives no subject with the `subject` pattern '" + pattern + "'");
      }
      if (r.subject.empty()) r.subject = r.clip;  // keeps the key readable; the clip has a problem anyway
      ctx.rows.push_back(std::move(r));
    }
  }
  if (images == 0)
    throw UserError("dataset '" + ctx.dataset + "': no flow images (*.png) in " + ctx.source.root.string() +
                    " under the folder layout '" + folders + "'");
}

}  // namespace

std::string flow_image_problem(const std::filesystem::path& file) {
  if (std::string why = frame_file_problem(file); !why.empty()) return why;
  std::ifstream in(file, std::ios::binary);
  std::array<unsigned char, 26> h{};
  in.read(reinterpret_cast<char*>(h.data()), h.size());
  static constexpr unsigned char kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (!in || !std::equal(kSig, kSig + 8, h.begin()))
    return "is not a PNG; expected an 8-bit PNG with 3 channels (u, v, strain)";
  if (!std::equal(h.begin() + 12, h.begin() + 16, "IHDR")) return "is not a valid PNG (no IHDR chunk first)";
  const int depth = h[24], type = h[25];
  const char* expected = "; expected 3 channels (u, v, strain) of 8 bits";
  switch (type) {
    case 0:
      return std::string("has 1 channel (grey)") + expected;
    case 3:
      return std::string("is a palette PNG") + expected;
    case 4:
      return std::string("has 2 channels (grey + alpha)") + expected;
    case 6:
      return std::string("has 4 channels (RGBA)") + expected;
    case 2:
      break;
    default:
      return "has PNG colour type " + std::to_string(type) + expected;
  }
  if (depth != 8) return "has " + std::to_string(depth) + "-bit channels" + expected + " (0..255)";
  return "";
}

AdapterInfo flow_images_adapter() {
  AdapterInfo a;
  a.name = "flow_images";
  a.corpus = "precomputed flow images";
  a.annotations = "none";
  a.description =
      "folders <root>/<class>/<clip>.png, each PNG 3 channels u, v, strain (0..255); read by the "
      "recipe flow_images";
  a.frames = "";
  a.fps = 0;
  a.codes_aus = false;
  a.codes_apex = false;
  a.input = "flow_images";
  a.options = {
      {"subject", "string", kDefaultSubject,
       "regex with one capture group: the subject id from the file stem (searched, ECMAScript)"},
      {"folders", "string", "{class}",
       "folder layout under the root holding the PNGs: {class} required, {subject} optional (then the "
       "subject is the folder name)"},
  };
  a.read = read_flow_images;
  return a;
}

}  // namespace merx::ds
