#include "merx/engine/saved_model.h"

#include <atomic>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unistd.h>

#include <torch/nn/modules/linear.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>
#include <torch/version.h>

#include "engine/trainer.h"
#include "merx/errors.h"
#include "merx/hash.h"

namespace merx::engine {

namespace fs = std::filesystem;
using nlohmann::json;

json ModelManifest::to_json() const {
  json j = {{"format", "merx-model"},
            {"format_version", kModelFormatVersion},
            {"cell", cell_identity},
            {"classes", classes},
            {"backbone", {{"name", backbone}, {"version", backbone_version}, {"params", backbone_params}}},
            {"input", {input.channels, input.height, input.width}},
            {"feature_dim", feature_dim},
            {"recipe", {{"name", recipe}, {"params", recipe_params}, {"config", recipe_config}}},
            {"labels", {{"name", labels}, {"map", label_map}}},
            {"libtorch_version", libtorch_version},
            {"merx_version", merx_version}};
  j["chosen_epoch"] = chosen_epoch ? json(*chosen_epoch) : json(nullptr);
  return j;
}

ModelManifest ModelManifest::from_json(const json& j, const std::string& where) {
  auto bad = [&](const std::string& what) -> UserError {
    return UserError(where + ": not a merx model manifest (" + what + ")");
  };
  if (!j.is_object() || j.value("format", "") != "merx-model") throw bad("no \"format\": \"merx-model\"");
  try {
    ModelManifest m;
    m.cell_identity = j.at("cell").get<std::string>();
    m.classes = j.at("classes").get<std::vector<std::string>>();
    m.backbone = j.at("backbone").at("name").get<std::string>();
    m.backbone_version = j.at("backbone").at("version").get<std::string>();
    m.backbone_params = j.at("backbone").at("params");
    const auto in = j.at("input").get<std::vector<int64_t>>();
    if (in.size() != 3) throw bad("input is not [C, H, W]");
    m.input = {in[0], in[1], in[2]};
    m.feature_dim = j.at("feature_dim").get<int64_t>();
    m.recipe = j.at("recipe").at("name").get<std::string>();
    m.recipe_params = j.at("recipe").at("params");
    m.recipe_config = j.at("recipe").at("config");
    m.labels = j.at("labels").at("name").get<std::string>();
    m.label_map = j.at("labels").at("map");
    if (!j.at("chosen_epoch").is_null()) m.chosen_epoch = j.at("chosen_epoch").get<int64_t>();
    m.libtorch_version = j.at("libtorch_version").get<std::string>();
    m.merx_version = j.at("merx_version").get<std::string>();
    if (m.classes.empty()) throw bad("no classes");
    return m;
  } catch (const json::exception& e) {
    throw bad(e.what());
  }
}

std::string model_bytes(Model& model, const ModelManifest& manifest) {
  torch::serialize::OutputArchive archive, backbone, head;
  archive.write("manifest", c10::IValue(manifest.to_json().dump()));
  model.backbone->save(backbone);
  model.head->save(head);
  archive.write("backbone", backbone);
  archive.write("head", head);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

SavedModelRef write_model_file(const fs::path& database, const std::string& bytes) {
  SavedModelRef ref;
  ref.sha256 = sha256_hex(bytes);
  ref.bytes = static_cast<int64_t>(bytes.size());
  ref.file = model_file(database, ref.sha256);
  std::error_code ec;
  if (fs::exists(ref.file, ec) && fs::file_size(ref.file, ec) == bytes.size()) return ref;  // same content
  fs::create_directories(ref.file.parent_path(), ec);
  if (ec) throw std::runtime_error("cannot create " + ref.file.parent_path().string() + ": " + ec.message());
  // Temporary name unique per process and call, then an atomic rename: readers never see a partial file.
  static std::atomic<uint64_t> counter{0};
  const fs::path tmp = ref.file.string() + ".tmp" + std::to_string(::getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream f(tmp, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    if (!f) {
      fs::remove(tmp, ec);
      throw std::runtime_error("cannot write " + tmp.string());
    }
  }
  fs::rename(tmp, ref.file, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw std::runtime_error("cannot rename " + tmp.string() + " to " + ref.file.string() + ": " + ec.message());
  }
  return ref;
}

namespace {

// Loads `module`'s parameters and buffers from `archive`, refusing a tensor whose shape differs from the
// freshly built module's (torch's own load would silently adopt the stored shape).
void load_checked(torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& what,
                  const std::string& file) {
  // Parameters then buffers, by name, with their shapes.
  auto shapes = [&module] {
    std::vector<std::pair<std::string, std::vector<int64_t>>> s;
    for (const auto& p : module.named_parameters()) s.emplace_back(p.key(), p.value().sizes().vec());
    for (const auto& b : module.named_buffers()) s.emplace_back(b.key(), b.value().sizes().vec());
    return s;
  };
  const auto want = shapes();
  try {
    module.load(archive);
  } catch (const c10::Error& e) {
    throw UserError(file + ": the " + what + " weights do not fit the network built from the manifest (" +
                    e.what_without_backtrace() + ")");
  }
  const auto got = shapes();
  for (size_t i = 0; i < got.size() && i < want.size(); ++i)
    if (got[i].second != want[i].second)
      throw UserError(file + ": " + what + (i < module.parameters().size() ? " tensor `" : " buffer `") + got[i].first + "` is " + detail::shape_text(got[i].second) +
                      " in the file, the network built from the manifest has " + detail::shape_text(want[i].second));
}

}  // namespace

LoadedModel load_model(const fs::path& file, const PluginRegistry& registry, torch::Device device) {
  const std::string where = file.string();
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw UserError(where + ": no such model file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(where, torch::Device(torch::kCPU));
  } catch (const c10::Error& e) {
    throw UserError(where + ": not a merx model file (.mxm, a LibTorch archive): " + e.what_without_backtrace());
  }
  c10::IValue text;
  if (!archive.try_read("manifest", text) || !text.isString())
    throw UserError(where + ": a LibTorch archive without a merx manifest (not written by merx)");
  json j = json::parse(text.toStringRef(), nullptr, false);
  if (j.is_discarded()) throw UserError(where + ": the manifest is not JSON");
  if (j.is_object() && j.value("format_version", 0) != kModelFormatVersion)
    throw UserError(where + ": model format version " + std::to_string(j.value("format_version", 0)) +
                    "; this merx reads version " + std::to_string(kModelFormatVersion));
  LoadedModel out;
  out.manifest = ModelManifest::from_json(j, where);
  const ModelManifest& m = out.manifest;
  if (m.libtorch_version != TORCH_VERSION)
    throw UserError(where + ": written by LibTorch " + m.libtorch_version + "; this merx links LibTorch " +
                    TORCH_VERSION + " (models are read by the LibTorch that wrote them)");
  const PluginInfo* info = registry.find(PluginKind::Backbone, m.backbone);
  if (!info)
    throw UserError(where + ": backbone plugin `" + m.backbone + "` is not installed (merx plugins lists them)");
  if (info->version != m.backbone_version)
    throw UserError(where + ": trained with backbone `" + m.backbone + "` version " + m.backbone_version +
                    "; the installed one is version " + info->version);
  try {
    out.model.backbone = registry.create<Backbone>(m.backbone, m.backbone_params);
  } catch (const UserError& e) {
    throw UserError(where + ": " + e.what());
  }
  const InputShape in = out.model.backbone->input_shape();
  if (in.channels != m.input.channels || in.height != m.input.height || in.width != m.input.width ||
      out.model.backbone->feature_dim() != m.feature_dim)
    throw UserError(where + ": backbone `" + m.backbone + "` built from the manifest's parameters does not take " +
                    "the manifest's input [" + std::to_string(m.input.channels) + ", " +
                    std::to_string(m.input.height) + ", " + std::to_string(m.input.width) + "] / features " +
                    std::to_string(m.feature_dim));
  out.model.head = torch::nn::Linear(
      torch::nn::LinearOptions(m.feature_dim, static_cast<int64_t>(m.classes.size())));
  torch::serialize::InputArchive backbone, head;
  if (!archive.try_read("backbone", backbone) || !archive.try_read("head", head))
    throw UserError(where + ": the archive lacks the backbone or head weights");
  load_checked(*out.model.backbone, backbone, "backbone", where);
  load_checked(*out.model.head, head, "head", where);
  out.model.backbone->to(device);
  out.model.head->to(device);
  out.model.set_training(false);
  return out;
}

Predicted predict(Model& model, const torch::Tensor& x, int64_t batch, torch::Device device) {
  if (batch < 1) throw std::invalid_argument("prediction batch must be >= 1");
  torch::NoGradGuard no_grad;
  model.set_training(false);
  Predicted out;
  const int64_t m = x.size(0);
  std::vector<torch::Tensor> parts;
  for (int64_t lo = 0; lo < m; lo += batch) {
    const int64_t n = std::min(batch, m - lo);
    const torch::Tensor logits = model.logits(x.narrow(0, lo, n).to(device, torch::kFloat)).to(torch::kCPU);
    parts.push_back(torch::softmax(logits, 1));
    const auto a = logits.accessor<float, 2>();
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t c = 1; c < logits.size(1); ++c)
        if (a[i][c] > a[i][best]) best = c;
      out.predicted.push_back(best);
    }
  }
  out.probabilities = parts.empty() ? torch::empty({0, 0}) : torch::cat(parts, 0);
  return out;
}

}  // namespace merx::engine
