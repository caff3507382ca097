// `merx prep --export`: .npy + CSV + recipe JSON, written through temporaries renamed into place.
#include "merx/preprocessing/export.h"

#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <system_error>

#include "merx/csv.h"
#include "merx/errors.h"

namespace merx::prep {

namespace fs = std::filesystem;

namespace {

// The floats are written as this machine holds them; the descriptor says which order that is.
constexpr const char* kDescr = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "<f4" : ">f4";

const char* kCsvHeader =
    "sample_key,dataset,subject,clip,emotion,label,onset,apex,offset,apex_estimated,face_fallback\n";

fs::path temporary(const fs::path& dir, const std::string& name) {
  return dir / ("." + name + ".tmp." + std::to_string(::getpid()));
}

}  // namespace

std::string npy_preamble(const std::vector<uint64_t>& shape) {
  std::string dims;  // Python's tuple: (a, b, c); (n,) for one dimension
  for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ',';
  std::string header =
      std::string("{'descr': '") + kDescr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // numpy.save (>= 1.24) leaves room for the first dimension to grow to 21 digits; doing the same makes the
  // preamble byte-identical to numpy's.
  if (!shape.empty()) header.append(21 - std::min<size_t>(21, std::to_string(shape[0]).size()), ' ');
  const size_t fixed = 6 + 2 + 2;  // magic, version, header length
  const size_t total = (fixed + header.size() + 1 + 63) / 64 * 64;
  header.append(total - fixed - header.size() - 1, ' ');
  header += '\n';
  if (header.size() > 0xffff) throw std::invalid_argument("npy header too long for format 1.0");
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);  // u16, little-endian whatever the machine
  out += static_cast<char>(header.size() >> 8);
  return out + header;
}

void check_export_dir(const fs::path& dir, bool force) {
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (!fs::exists(st)) return;
  if (!fs::is_directory(st)) throw UserError("--export " + dir.string() + ": exists and is not a folder");
  if (force) return;
  fs::directory_iterator it(dir, ec);
  if (ec) throw UserError("--export " + dir.string() + ": cannot read the folder: " + ec.message());
  if (it != fs::directory_iterator())
    throw UserError("--export " + dir.string() + ": the folder is not empty (it holds " +
                    it->path().filename().string() +
                    "); give an empty or new folder, or --force to replace inputs.npy, samples.csv and "
                    "recipe.json there");
}

NumpyExport::NumpyExport(fs::path dir, ExportRecipe recipe, uint64_t samples)
    : dir_(std::move(dir)), recipe_(std::move(recipe)), samples_(samples) {
  const auto c = recipe_.config.channels();
  if (recipe_.channels.size() != static_cast<size_t>(c))
    throw std::invalid_argument("export: " + std::to_string(recipe_.channels.size()) + " channel names for " +
                                std::to_string(c) + " channels");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("cannot create the export folder " + dir_.string() + ": " + ec.message());
  tmp_npy_ = temporary(dir_, "inputs.npy");
  tmp_csv_ = temporary(dir_, "samples.csv");
  tmp_json_ = temporary(dir_, "recipe.json");
  npy_.open(tmp_npy_, std::ios::binary | std::ios::trunc);
  csv_.open(tmp_csv_, std::ios::binary | std::ios::trunc);
  if (!npy_ || !csv_) throw std::runtime_error("cannot write in the export folder " + dir_.string());
  const uint64_t s = static_cast<uint64_t>(recipe_.config.size);
  npy_ << npy_preamble({samples_, static_cast<uint64_t>(c), s, s});
  csv_ << kCsvHeader;
}

NumpyExport::~NumpyExport() {
  if (committed_) return;
  npy_.close();
  csv_.close();
  std::error_code ec;
  for (const auto* p : {&tmp_npy_, &tmp_csv_, &tmp_json_})
    if (!p->empty()) fs::remove(*p, ec);
}

void NumpyExport::add(const SampleRecord& sample, const std::optional<std::string>& label,
                      const PrepResult& r) {
  const int c = recipe_.config.channels(), s = recipe_.config.size;
  if (r.channels != c || r.size != s || r.data.size() != static_cast<size_t>(c) * s * s)
    throw std::invalid_argument("export: " + sample.key + " has shape [" + std::to_string(r.channels) + ", " +
                                std::to_string(r.size) + ", " + std::to_string(r.size) +
                                "], the recipe makes [" + std::to_string(c) + ", " + std::to_string(s) +
                                ", " + std::to_string(s) + "]");
  if (rows_ == samples_)
    throw std::invalid_argument("export: more than the " + std::to_string(samples_) + " samples announced");
  if (r.apex_index >= sample.frame_numbers.size())
    throw std::invalid_argument("export: " + sample.key + ": apex index outside the clip's frames");
  npy_.write(reinterpret_cast<const char*>(r.data.data()),
             static_cast<std::streamsize>(r.data.size() * sizeof(float)));
  const bool estimated = sample.apex_estimated || r.apex_estimated;
  csv_ << csv_field(sample.key) << ',' << csv_field(sample.dataset) << ',' << csv_field(sample.subject) << ','
       << csv_field(sample.clip) << ',' << csv_field(sample.emotion) << ',' << csv_field(label.value_or(""))
       << ',' << sample.onset << ',' << sample.frame_numbers[r.apex_index] << ',' << sample.offset << ','
       << (estimated ? 1 : 0) << ',' << (r.face_fallback ? 1 : 0) << '\n';
  if (!npy_ || !csv_) throw std::runtime_error("cannot write in the export folder " + dir_.string());
  ++rows_;
}

void NumpyExport::commit() {
  if (rows_ != samples_)
    throw std::logic_error("export: " + std::to_string(rows_) + " of " + std::to_string(samples_) +
                           " samples written");
  const int s = recipe_.config.size;
  const nlohmann::json doc = {{"recipe", recipe_.config.recipe},
                              {"recipe_version", kRecipeVersion},
                              {"params", recipe_.params},
                              {"config", recipe_.config.to_json()},
                              {"channels", recipe_.channels},
                              {"size", s},
                              {"shape", {samples_, recipe_.config.channels(), s, s}},
                              {"dtype", "float32"},
                              {"files", {{"inputs", "inputs.npy"}, {"samples", "samples.csv"}}}};
  {
    std::ofstream json_file(tmp_json_, std::ios::binary | std::ios::trunc);
    json_file << doc.dump(2) << '\n';
    json_file.close();
    if (!json_file) throw std::runtime_error("cannot write " + tmp_json_.string());
  }
  npy_.close();
  csv_.close();
  if (!npy_ || !csv_) throw std::runtime_error("cannot write in the export folder " + dir_.string());
  // samples.csv last: a reader that finds it finds the arrays it describes.
  const std::vector<std::pair<fs::path, std::string>> moves = {
      {tmp_npy_, "inputs.npy"}, {tmp_json_, "recipe.json"}, {tmp_csv_, "samples.csv"}};
  for (const auto& [from, name] : moves) {
    std::error_code ec;
    fs::rename(from, dir_ / name, ec);
    if (ec) throw std::runtime_error("cannot rename " + from.string() + " to " + name + ": " + ec.message());
  }
  committed_ = true;
}

}  // namespace merx::prep
