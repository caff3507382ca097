// `torchscript`: a backbone written in Python. Loads a TorchScript archive (torch.jit.save of
// torch.jit.script(module) or torch.jit.trace(...)) with torch::jit::load and trains it like any backbone:
//   - every parameter and buffer of the scripted module is registered on this torch::nn::Module under the
//     scripted name ("conv1.weight", "bn1.running_mean", ...; one empty child module per dotted prefix), as
//     the same tensor, so the engine's optimizer, snapshot/restore and device moves see them;
//   - train()/eval() is forwarded to the scripted module (dropout, batch norm);
//   - to(device/dtype) moves the scripted module's parameters and buffers in place (set_data), so the
//     registered tensors follow; a dtype converts floating-point tensors only, as PyTorch's Module.to.
// The file is checked at construction (so `merx validate` and the start of `merx run` fail, not the middle
// of training): it must exist, be loadable by the LibTorch merx links, accept a zero batch [2, C, S, S] in
// eval mode and return [2, F] with F = params.features. Every failure is a merx::UserError naming the file
// and what was expected (the host reports it as "plugin <so>: factory failed: ...", exit 2).
// The host resolves `model` (a file-valued parameter) against the spec's folder and puts the file's
// SHA-256 into the cell identity.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/script.h>
#include <torch/version.h>

#include "merx/backbone.h"
#include "merx/errors.h"
#include "merx/plugin.h"

// The LibTorch release merx links: Debian's package version when built from libtorch-dev (whose headers say
// 1.13.0 for 1.13.1), TORCH_VERSION otherwise.
#ifdef MERX_LIBTORCH_DEB
#define MERX_LIBTORCH_TEXT "LibTorch " MERX_LIBTORCH_RELEASE " (Debian's libtorch-dev, the LibTorch merx links)"
#else
#define MERX_LIBTORCH_TEXT "LibTorch " TORCH_VERSION " (the LibTorch merx links)"
#endif

namespace {

namespace fs = std::filesystem;

std::string shape_text(torch::IntArrayRef s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

// A c10::Error's message without its C++ backtrace, first few lines only (the host's error buffer is 4 KiB).
std::string short_what(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  std::string m = c10 ? c10->what_without_backtrace() : e.what();
  size_t cut = 0;
  for (int line = 0; line < 6 && cut != std::string::npos; ++line) cut = m.find('\n', cut ? cut + 1 : 0);
  if (cut != std::string::npos) m = m.substr(0, cut);
  if (m.size() > 1500) m = m.substr(0, 1500) + " ...";
  return m;
}

class TorchScript final : public merx::Backbone {
 public:
  explicit TorchScript(const merx::Params& p)
      : file_(p.string("model")),
        in_{p.integer("channels"), p.integer("size"), p.integer("size")},
        features_(p.integer("features")) {
    const std::string who = "torchscript: model file " + file_.string();
    if (file_.empty())
      throw merx::UserError(
          "torchscript: backbone.params.model is required: the path of a TorchScript file written by "
          "torch.jit.save(torch.jit.script(module), path) (a relative path is relative to the spec's folder)");
    std::error_code ec;
    if (!fs::is_regular_file(file_, ec)) throw merx::UserError(who + ": file not found");
    try {
      module_ = torch::jit::load(file_.string(), torch::kCPU);
    } catch (const std::exception& e) {
      throw merx::UserError(
          who + ": not a TorchScript archive that " MERX_LIBTORCH_TEXT " can load. Expected a file written by torch.jit.save() of "
                "torch.jit.script/trace from PyTorch 1.13 or older; torch.save() state dicts, torch.export "
                "and .pt2 (AOTInductor) files are not supported. LibTorch said: " +
          short_what(e));
    }
    register_tensors();
    probe(who);
    train(true);  // a torch::nn::Module starts in training mode; so does this one's scripted module
  }

  merx::InputShape input_shape() const override { return in_; }
  int64_t feature_dim() const override { return features_; }

  // x [B, C, S, S] -> the scripted module's forward(x), checked to be [B, F].
  torch::Tensor forward(torch::Tensor x) override {
    const c10::IValue out = module_.forward({x});
    return checked(out, x.size(0), "torchscript: model file " + file_.string());
  }

  void train(bool on = true) override {
    torch::nn::Module::train(on);
    module_.train(on);
  }
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override {
    move(device, dtype, non_blocking);
  }
  void to(torch::Dtype dtype, bool non_blocking = false) override { move(std::nullopt, dtype, non_blocking); }
  void to(torch::Device device, bool non_blocking = false) override {
    move(device, std::nullopt, non_blocking);
  }

 private:
  // Moves every parameter and buffer in place (set_data), so the scripted module and the registered handles
  // keep sharing them. A dtype applies to floating-point tensors only (PyTorch's Module.to semantics:
  // bn.num_batches_tracked stays int64).
  void move(std::optional<torch::Device> device, std::optional<torch::Dtype> dtype, bool non_blocking) {
    torch::NoGradGuard no_grad;
    auto one = [&](torch::Tensor t) {
      const torch::Dtype type = dtype && t.is_floating_point() ? *dtype : t.scalar_type();
      t.set_data(t.to(device.value_or(t.device()), type, non_blocking));
    };
    for (const auto& t : module_.parameters(/*recurse=*/true)) one(t);
    for (const auto& t : module_.buffers(/*recurse=*/true)) one(t);
  }

  // The child module that owns the dotted name's last component, created on the way ("a.b.w" -> a -> b).
  torch::nn::Module& owner(const std::string& dotted, std::string& leaf) {
    torch::nn::Module* m = this;
    std::string prefix;
    size_t start = 0;
    for (size_t dot = dotted.find('.'); dot != std::string::npos; dot = dotted.find('.', start)) {
      const std::string part = dotted.substr(start, dot - start);
      prefix += (prefix.empty() ? "" : ".") + part;
      auto it = children_by_path_.find(prefix);
      if (it == children_by_path_.end())
        it = children_by_path_
                 .emplace(prefix, m->register_module(part, std::make_shared<torch::nn::Module>()))
                 .first;
      m = it->second.get();
      start = dot + 1;
    }
    leaf = dotted.substr(start);
    return *m;
  }

  void register_tensors() {
    std::string leaf;
    for (const auto& p : module_.named_parameters(/*recurse=*/true)) {
      torch::nn::Module& m = owner(p.name, leaf);
      m.register_parameter(leaf, p.value, p.value.requires_grad());
    }
    for (const auto& b : module_.named_buffers(/*recurse=*/true)) {
      torch::nn::Module& m = owner(b.name, leaf);
      m.register_buffer(leaf, b.value);
    }
  }

  torch::Tensor checked(const c10::IValue& out, int64_t batch, const std::string& who) const {
    const std::string want = "[" + std::to_string(batch) + ", " + std::to_string(features_) + "]";
    if (!out.isTensor())
      throw merx::UserError(who + ": forward() returned a " + out.tagKind() + ", expected a tensor " + want +
                            " (backbone.params.features = " + std::to_string(features_) + ")");
    torch::Tensor t = out.toTensor();
    if (t.dim() != 2 || t.size(0) != batch || t.size(1) != features_)
      throw merx::UserError(who + ": forward() returned " + shape_text(t.sizes()) + ", expected [B, F] = " +
                            want + " (backbone.params.features = " + std::to_string(features_) +
                            "; flatten the features to [B, F] and declare F)");
    return t;
  }

  // A zero batch of the declared shape, in eval mode (no running statistic changes, no random draw).
  void probe(const std::string& who) {
    torch::NoGradGuard no_grad;
    module_.eval();
    const torch::Tensor x = torch::zeros({2, in_.channels, in_.height, in_.width});
    c10::IValue out;
    try {
      out = module_.forward({x});
    } catch (const std::exception& e) {
      throw merx::UserError(who + ": forward() does not accept the declared input " + shape_text(x.sizes()) +
                            " = [B, channels, size, size] (backbone.params.channels = " +
                            std::to_string(in_.channels) + ", size = " + std::to_string(in_.height) +
                            "): " + short_what(e));
    }
    if (features_ == 0 && out.isTensor() && out.toTensor().dim() == 2)
      throw merx::UserError(who + ": backbone.params.features is required (F of the [B, F] output); for input " +
                            shape_text(x.sizes()) + " the module returns " +
                            shape_text(out.toTensor().sizes()) + ", so set features = " +
                            std::to_string(out.toTensor().size(1)));
    checked(out, x.size(0), who);
  }

  fs::path file_;
  merx::InputShape in_;
  int64_t features_ = 0;
  torch::jit::Module module_;
  std::map<std::string, std::shared_ptr<torch::nn::Module>> children_by_path_;
};

}  // namespace

MERX_PLUGIN(merx::Backbone, TorchScript, "torchscript", "1.0.0",
            "a PyTorch model from a TorchScript file (torch.jit.save), trained by merx; [B, C, S, S] -> [B, F]",
            merx::ParamDecl::string("model", "")
                .file_path()
                .doc_line("TorchScript file (torch.jit.save of torch.jit.script/trace, PyTorch <= 1.13); a "
                          "relative path is relative to the spec's folder; its SHA-256 enters the cell identity"),
            merx::ParamDecl::integer("channels", 3).range(1, 64).doc_line("input channels C of [B, C, S, S]"),
            merx::ParamDecl::integer("size", 28).range(1, 1024).doc_line("input side S in pixels"),
            merx::ParamDecl::integer("features", 0)
                .range(0, 1 << 24)
                .doc_line("F: width of the module's [B, F] output (required; 0 = not declared, an error "
                          "that names the width the module returns)"))
