// The plugin host against real .so files: the build's own plugins and the test plugins of
// tests/plugins/CMakeLists.txt (one folder per situation under MERX_TEST_PLUGIN_DIR).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <torch/nn/module.h>
#include <torch/types.h>
#include <torch/version.h>

#include "merx/augmenter.h"
#include "merx/backbone.h"
#include "merx/errors.h"
#include "merx/plugin_abi.h"
#include "merx/plugins/registry.h"
#include "merx/regularizer.h"

#include "common/torch_doctest.h"  // after the torch headers

namespace fs = std::filesystem;
using merx::PluginKind;
using merx::PluginRegistry;

namespace {

fs::path test_dir(const std::string& folder) {
  return fs::path(MERX_TEST_PLUGIN_DIR) / folder;
}
fs::path test_file(const std::string& folder, const std::string& file) {
  return test_dir(folder) / file;
}

PluginRegistry discover_only(std::vector<fs::path> dirs) {
  merx::DiscoveryOptions o;
  o.default_dirs = false;
  o.environment = false;
  o.extra_dirs = std::move(dirs);
  return PluginRegistry::discover(o);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Message of the merx::UserError thrown by f; fails the test if f throws nothing or something else.
template <class F>
std::string user_error_of(F&& f) {
  try {
    f();
  } catch (const merx::UserError& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected merx::UserError, got another exception: " << e.what());
  }
  FAIL("expected merx::UserError, nothing was thrown");
  return {};
}

// Routes spdlog's default logger into a string for the lifetime of the object.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Whether a file is currently mapped into this process (glibc maps a dlopen'ed library by its real path).
bool mapped(const fs::path& file) {
  const std::string real = fs::canonical(file).string();
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.size() >= real.size() && line.compare(line.size() - real.size(), real.size(), real) == 0)
      return true;
  return false;
}

const merx::RefusedPlugin* refused_file(const PluginRegistry& reg, const fs::path& file) {
  for (const auto& r : reg.refused())
    if (r.file == file.lexically_normal()) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("the build's plugin folder lists linear and both none plugins and linear computes x W^T + b") {
  const PluginRegistry reg = discover_only({fs::path(MERX_BINARY_DIR) / "plugins"});

  const merx::PluginInfo* linear = reg.find(PluginKind::Backbone, "linear");
  REQUIRE(linear != nullptr);
  CHECK(linear->version == "1.0.0");
  CHECK(linear->abi() == "1.0");
  CHECK(linear->file ==
        (fs::path(MERX_BINARY_DIR) / "plugins" / "merx_backbone_linear.so").lexically_normal());
  REQUIRE(linear->params.size() == 3);
  CHECK(linear->params[0].name == "channels");
  CHECK(linear->params[0].default_value == 3);
  CHECK(linear->params[1].name == "size");
  CHECK(linear->params[1].default_value == 28);
  CHECK(linear->params[2].name == "features");
  CHECK(linear->params[2].default_value == 64);
  CHECK(linear->params[2].min == 1.0);
  CHECK(linear->params[2].max == 65536.0);

  const merx::PluginInfo* erm = reg.find(PluginKind::Regularizer, "none");
  REQUIRE(erm != nullptr);
  CHECK(erm->version == "1.0.0");
  CHECK(erm->params.empty());
  const merx::PluginInfo* noaug = reg.find(PluginKind::Augmenter, "none");
  REQUIRE(noaug != nullptr);
  CHECK(noaug->version == "1.0.0");

  // plugins() is sorted by (kind, name) and filters by kind.
  const auto backbones = reg.plugins(PluginKind::Backbone);
  CHECK(std::find_if(backbones.begin(), backbones.end(), [](const auto& p) { return p.name == "linear"; }) !=
        backbones.end());
  for (const auto& p : backbones) CHECK(p.kind == PluginKind::Backbone);
  const auto all = reg.plugins();
  for (size_t i = 1; i < all.size(); ++i)
    CHECK_MESSAGE(
        (std::make_pair(all[i - 1].kind, all[i - 1].name) < std::make_pair(all[i].kind, all[i].name)),
        all[i].name);

  auto net = reg.create<merx::Backbone>("linear", {{"channels", 3}, {"size", 4}, {"features", 2}});
  CHECK(net->feature_dim() == 2);
  CHECK(net->input_shape().channels == 3);
  CHECK(net->input_shape().height == 4);
  torch::manual_seed(7);
  const torch::Tensor x = torch::randn({2, 3, 4, 4});
  const torch::Tensor y = net->forward(x);
  CHECK(y.sizes() == torch::IntArrayRef({2, 2}));
  const auto params = net->named_parameters();
  REQUIRE(params.contains("fc.weight"));
  REQUIRE(params.contains("fc.bias"));
  const torch::Tensor w = params["fc.weight"];
  const torch::Tensor b = params["fc.bias"];
  CHECK(w.sizes() == torch::IntArrayRef({2, 48}));
  const torch::Tensor expected = x.flatten(1).matmul(w.t()) + b;
  CHECK(torch::allclose(y, expected, 1e-5, 1e-6));

  auto reg_obj = reg.create<merx::Regularizer>("none", merx::json::object());
  CHECK(reg_obj != nullptr);
  auto aug = reg.create<merx::Augmenter>("none", merx::json::object());
  CHECK(aug->mode() == merx::AugmenterMode::Identity);
}

TEST_CASE("default folders are <exe dir>/../plugins and then the install folder") {
  const auto dirs = PluginRegistry::default_dirs();
  REQUIRE(dirs.size() == 2);
  // Test executables live in <build>/bin, like merx itself.
  CHECK(dirs[0] == (fs::path(MERX_BINARY_DIR) / "plugins").lexically_normal());
  CHECK(contains(dirs[1].string(), fs::path(MERX_BINARY_DIR).lexically_normal().string()));
  CHECK(contains(dirs[1].string(), "merx/plugins"));
  CHECK(dirs[1] != dirs[0]);
}

TEST_CASE(
    "MERX_PLUGIN_PATH folders are scanned once each and a missing plugin_paths folder is a user error") {
  const fs::path good = test_dir("good");
  const fs::path missing = test_dir("no_such_folder");
  const std::string env = good.string() + "::" + missing.string() + ":" + good.string() + "/.";
  REQUIRE(setenv("MERX_PLUGIN_PATH", env.c_str(), 1) == 0);
  merx::DiscoveryOptions o;
  o.default_dirs = false;
  o.extra_dirs = {good};  // the same folder a fourth time
  const PluginRegistry reg = PluginRegistry::discover(o);
  unsetenv("MERX_PLUGIN_PATH");

  REQUIRE(reg.find(PluginKind::Backbone, "test_tiny") != nullptr);
  CHECK(reg.plugins().size() == 1);
  REQUIRE(reg.scanned_dirs().size() == 2);
  CHECK(reg.scanned_dirs()[0] == good);
  CHECK(reg.scanned_dirs()[1] == missing);
  const merx::PluginInfo& tiny = *reg.find(PluginKind::Backbone, "test_tiny");
  CHECK(tiny.version == "0.3.0");
  CHECK(tiny.description == "test backbone: spatial mean + linear");
  REQUIRE(tiny.params.size() == 1);
  CHECK(tiny.params[0].name == "width");
  CHECK(tiny.params[0].default_value == 2);

  const std::string msg = user_error_of([&] { discover_only({missing}); });
  CHECK(contains(msg, missing.string()));
  CHECK(contains(msg, "does not exist"));
}

TEST_CASE("a plugin built for ABI 2.0 is refused naming the file and both versions") {
  const fs::path file = test_file("bad_abi", "merx_backbone_test_bad_abi.so");
  const std::string host_major = std::to_string(MERX_PLUGIN_ABI_MAJOR) + ".";
  const std::string msg = user_error_of([&] { PluginRegistry::inspect_file(file); });
  CHECK(contains(msg, file.string()));
  CHECK(contains(msg, "2.0"));
  CHECK(contains(msg, host_major));

  LogCapture log;
  const PluginRegistry reg = discover_only({test_dir("bad_abi")});
  CHECK(reg.plugins().empty());
  REQUIRE(reg.refused().size() == 1);
  CHECK(reg.refused()[0].file == file);
  CHECK(contains(reg.refused()[0].reason, "2.0"));
  CHECK(contains(log.text(), file.string()));
  // A spec naming it gets the reason, not "unknown".
  const std::string why = user_error_of([&] { reg.create_raw(PluginKind::Backbone, "test_bad_abi", {}); });
  CHECK(contains(why, "refused"));
  CHECK(contains(why, "2.0"));
}

TEST_CASE("an unresolved symbol is a catchable load error and not a crash") {
  const fs::path file = test_file("unresolved", "merx_backbone_test_unresolved.so");
  REQUIRE(fs::exists(file));
  const std::string msg = user_error_of([&] { PluginRegistry::inspect_file(file); });
  CHECK(contains(msg, file.string()));
  CHECK(contains(msg, "merx_test_function_nobody_defines"));

  LogCapture log;
  const PluginRegistry reg = discover_only({test_dir("unresolved")});
  CHECK(reg.plugins().empty());
  REQUIRE(refused_file(reg, file) != nullptr);
  CHECK(contains(log.text(), file.string()));
}

TEST_CASE("two plugins with the same kind and name are a user error naming both files") {
  const fs::path a = test_file("dup_a", "merx_backbone_test_dup.so");
  const fs::path b = test_file("dup_b", "merx_backbone_test_dup.so");
  const std::string msg = user_error_of([&] { discover_only({test_dir("dup_a"), test_dir("dup_b")}); });
  CHECK(contains(msg, a.string()));
  CHECK(contains(msg, b.string()));
  CHECK(contains(msg, "test_dup"));
  // Either one alone is fine.
  CHECK(discover_only({test_dir("dup_a")}).find(PluginKind::Backbone, "test_dup") != nullptr);
}

TEST_CASE("a throwing constructor becomes a user error naming the plugin file") {
  const fs::path file = test_file("throws", "merx_backbone_test_throws.so");
  const PluginRegistry reg = discover_only({test_dir("throws")});
  REQUIRE(reg.find(PluginKind::Backbone, "test_throws") != nullptr);

  const std::string raw = user_error_of([&] {
    reg.create_raw(PluginKind::Backbone, "test_throws", {{"width", 3}});
  });
  CHECK(contains(raw, "boom: width must be even"));
  CHECK(contains(raw, file.string()));
  CHECK(contains(raw, "factory failed"));
  const std::string typed = user_error_of([&] { reg.create<merx::Backbone>("test_throws", {{"width", 5}}); });
  CHECK(contains(typed, "boom: width must be even"));
  CHECK(contains(typed, file.string()));

  // The same plugin builds with valid parameters: the failure came from the constructor.
  auto net = reg.create<merx::Backbone>("test_throws", {{"width", 4}});
  CHECK(net->feature_dim() == 4);
}

TEST_CASE("an object outlives the registry and its library is unmapped once the object is gone") {
  const fs::path file = test_file("good", "merx_backbone_test_tiny.so");
  REQUIRE(fs::exists(file));
  CHECK_FALSE(mapped(file));

  std::shared_ptr<merx::Backbone> net;
  {
    const PluginRegistry reg = discover_only({test_dir("good")});
    net = reg.create<merx::Backbone>("test_tiny", {{"width", 2}});
    CHECK(mapped(file));
  }
  CHECK(mapped(file));  // the registry is gone, the object keeps the library

  const torch::Tensor x = torch::arange(48, torch::kFloat32).reshape({1, 3, 4, 4});
  const torch::Tensor y = net->forward(x);
  CHECK(y.sizes() == torch::IntArrayRef({1, 2}));
  const auto params = net->named_parameters();
  const torch::Tensor expected = x.mean({2, 3}).matmul(params["fc.weight"].t()) + params["fc.bias"];
  CHECK(torch::allclose(y, expected));

  net.reset();
  CHECK_FALSE(mapped(file));
}

TEST_CASE("files that are not plugins are skipped with warnings") {
  const fs::path no_entry = test_file("junk", "merx_backbone_junk.so");
  const fs::path fake = test_file("junk", "fake.so");
  LogCapture log;
  PluginRegistry reg;
  CHECK_NOTHROW(reg = discover_only({test_dir("junk")}));
  CHECK(reg.plugins().empty());
  CHECK(reg.refused().size() == 2);  // notes.txt is not even opened
  const merx::RefusedPlugin* r1 = refused_file(reg, no_entry);
  const merx::RefusedPlugin* r2 = refused_file(reg, fake);
  REQUIRE(r1 != nullptr);
  REQUIRE(r2 != nullptr);
  CHECK(contains(r1->reason, MERX_PLUGIN_ENTRY_POINT));
  CHECK(contains(r2->reason, "cannot be loaded"));
  CHECK(contains(log.text(), no_entry.string()));
  CHECK(contains(log.text(), fake.string()));
  CHECK_FALSE(contains(log.text(), "notes.txt"));
  // The file name follows merx_<kind>_<name>.so, so asking for `junk` explains the refusal.
  const std::string why = user_error_of([&] { reg.create_raw(PluginKind::Backbone, "junk", {}); });
  CHECK(contains(why, no_entry.string()));
}

TEST_CASE("a default outside the declared range is refused naming the parameter") {
  const fs::path file = test_file("bad_range", "merx_backbone_test_bad_range.so");
  const std::string msg = user_error_of([&] { PluginRegistry::inspect_file(file); });
  CHECK(contains(msg, file.string()));
  CHECK(contains(msg, "parameter 'width'"));
  CHECK(contains(msg, "below min 1"));

  const PluginRegistry reg = discover_only({test_dir("bad_range")});
  CHECK(reg.plugins().empty());
  REQUIRE(reg.refused().size() == 1);
  CHECK(reg.refused()[0].kind == PluginKind::Backbone);
  CHECK(reg.refused()[0].name == "test_bad_range");
}

TEST_CASE("each descriptor fault is refused with its own reason") {
  LogCapture log;
  const PluginRegistry reg = discover_only({test_dir("refusals")});
  CHECK(reg.plugins().empty());
  CHECK(reg.refused().size() == 6);
  auto reason = [&](const std::string& name) {
    const merx::RefusedPlugin* r = refused_file(reg, test_file("refusals", "merx_backbone_" + name + ".so"));
    REQUIRE_MESSAGE(r != nullptr, name);
    CHECK(contains(log.text(), r->file.string()));
    return r->reason;
  };
  const std::string newer_minor =
      std::to_string(MERX_PLUGIN_ABI_MAJOR) + "." + std::to_string(MERX_PLUGIN_ABI_MINOR + 1);
  CHECK(contains(reason("test_newer_minor"), "plugin ABI " + newer_minor));
  CHECK(contains(reason("test_other_torch"), "0.0.1"));
  CHECK(contains(reason("test_other_torch"), TORCH_VERSION));
  CHECK(contains(reason("test_other_cxx11"), "_GLIBCXX_USE_CXX11_ABI"));
  CHECK(contains(reason("test_newer_api"), "interface version 99"));
  CHECK(contains(reason("test_bad_kind"), "frontend"));
  CHECK(contains(reason("test_bad_json"), "not valid JSON"));

  const merx::RefusedPlugin* torch_mismatch =
      refused_file(reg, test_file("refusals", "merx_backbone_test_other_torch.so"));
  REQUIRE(torch_mismatch != nullptr);
  CHECK(torch_mismatch->kind == PluginKind::Backbone);
  CHECK(torch_mismatch->name == "test_other_torch");
}

TEST_CASE("an unknown plugin name lists the available names with a did-you-mean") {
  const PluginRegistry reg = discover_only({test_dir("good")});
  CHECK(reg.find(PluginKind::Backbone, "test_tiyn") == nullptr);
  const std::string msg = user_error_of([&] { reg.create_raw(PluginKind::Backbone, "test_tiyn", {}); });
  CHECK(contains(msg, "test_tiyn"));
  CHECK(contains(msg, "did you mean 'test_tiny'"));
  const std::string far = user_error_of([&] { reg.create_raw(PluginKind::Backbone, "resnet18", {}); });
  CHECK_FALSE(contains(far, "did you mean"));
  CHECK(contains(far, "test_tiny"));
  const std::string none = user_error_of([&] { reg.create<merx::Regularizer>("irm", {}); });
  CHECK(contains(none, "no regularizer plugins"));
  CHECK(contains(none, test_dir("good").string()));
}

TEST_CASE("the host's ABI facts equal the SDK headers'") {
  const merx::HostAbi host = merx::host_abi();
  CHECK(host.abi_major == MERX_PLUGIN_ABI_MAJOR);
  CHECK(host.abi_minor == MERX_PLUGIN_ABI_MINOR);
  CHECK(host.abi() == std::to_string(MERX_PLUGIN_ABI_MAJOR) + "." + std::to_string(MERX_PLUGIN_ABI_MINOR));
  CHECK(host.torch_version == TORCH_VERSION);
  CHECK(host.cxx11_abi == _GLIBCXX_USE_CXX11_ABI);
  CHECK(host.api_version(PluginKind::Backbone) == merx::Backbone::kApiVersion);
  CHECK(host.api_version(PluginKind::Regularizer) == merx::Regularizer::kApiVersion);
  CHECK(host.api_version(PluginKind::Augmenter) == merx::Augmenter::kApiVersion);
  CHECK(std::string(merx::to_string(PluginKind::Regularizer)) == "regularizer");
  CHECK(merx::plugin_kind_from_string("augmenter") == PluginKind::Augmenter);
  CHECK_FALSE(merx::plugin_kind_from_string("Backbone").has_value());
}
