// The `torchscript` backbone plugin with modules scripted by Debian's python3-torch in the test itself: each
// case writes a Python script to a scratch folder, runs it with /usr/bin/python3 (the system interpreter,
// which has python3-torch; a pyenv `python3` first on PATH would not) and loads the .pt it saves.
// Expected values come from Python (outputs computed by PyTorch itself), from hand formulas (an SGD step is
// p - lr * grad), or from the independent C++ `ststnet` plugin (the parity case), never from the plugin.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/plugin_fixture.h"
#include "merx/backbone.h"
#include "merx/errors.h"

#include "common/torch_doctest.h"  // after the torch headers

namespace fs = std::filesystem;
using merx::json;
using merx_test::make;
using torch::Tensor;

namespace {

constexpr const char* kPython = "/usr/bin/python3";

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("merx-torchscript-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `source` to dir/make.py and runs it with dir as its working folder; REQUIREs exit 0.
void python(const fs::path& dir, const std::string& source) {
  std::ofstream(dir / "make.py") << "import torch, torch.nn as nn, torch.nn.functional as F\n"
                                 << "torch.manual_seed(0)\n"
                                 << source;
  const std::string cmd = "cd '" + dir.string() + "' && " + kPython + " make.py >log.txt 2>&1";
  const int status = std::system(cmd.c_str());
  INFO(read(dir / "log.txt"));
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

std::vector<double> numbers(const fs::path& p) {
  std::ifstream in(p);
  std::vector<double> v;
  for (double x; in >> x;) v.push_back(x);
  return v;
}

std::shared_ptr<merx::Backbone> load(const fs::path& pt, int64_t channels, int64_t size, int64_t features) {
  return make<merx::Backbone>(
      "torchscript", {{"model", pt.string()}, {"channels", channels}, {"size", size}, {"features", features}});
}

// The message of the UserError that constructing the backbone throws ("" when it does not throw).
std::string error_of(const json& params) {
  try {
    make<merx::Backbone>("torchscript", params);
  } catch (const merx::UserError& e) {
    return e.what();
  }
  return "";
}

// x = arange(n) / n reshaped, the same in Python (written out by the scripts below).
Tensor ramp(std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return (torch::arange(n, torch::kFloat) / static_cast<double>(n)).reshape(shape);
}

const char* kMlp = R"(
class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 6))
        self.fc = nn.Linear(6, 5)
    def forward(self, x):
        return self.fc(torch.tanh(self.body(x)))
m = Mlp()
torch.jit.save(torch.jit.script(m), "mlp.pt")
x = (torch.arange(4 * 3 * 8 * 8, dtype=torch.float32) / (4 * 3 * 8 * 8)).reshape(4, 3, 8, 8)
with torch.no_grad():
    open("out.txt", "w").write(" ".join(repr(v) for v in m(x).flatten().tolist()))
open("names.txt", "w").write(" ".join(n for n, _ in m.named_parameters()))
)";

}  // namespace

TEST_CASE("torchscript: a scripted MLP gives PyTorch's output, its parameters reach the optimizer and train") {
  const fs::path dir = scratch("mlp");
  python(dir, kMlp);
  auto net = load(dir / "mlp.pt", 3, 8, 5);
  CHECK(net->input_shape().channels == 3);
  CHECK(net->input_shape().height == 8);
  CHECK(net->input_shape().width == 8);
  CHECK(net->feature_dim() == 5);

  // Names as in Python, in Python's order; 192 * 6 + 6 + 6 * 5 + 5 weights by hand.
  std::string names;
  int64_t count = 0;
  for (const auto& p : net->named_parameters()) {
    names += (names.empty() ? "" : " ") + p.key();
    count += p.value().numel();
  }
  CHECK(names == read(dir / "names.txt"));
  CHECK(names == "body.1.weight body.1.bias fc.weight fc.bias");
  CHECK(count == 192 * 6 + 6 + 6 * 5 + 5);

  // Output [B, F] equal to PyTorch's for the same input.
  const Tensor x = ramp({4, 3, 8, 8});
  Tensor out;
  {
    torch::NoGradGuard ng;
    net->eval();
    out = net->forward(x);
  }
  REQUIRE(out.sizes() == torch::IntArrayRef({4, 5}));
  const std::vector<double> want = numbers(dir / "out.txt");
  REQUIRE(want.size() == 20);
  for (size_t i = 0; i < want.size(); ++i) CHECK(out.flatten()[static_cast<int64_t>(i)].item<double>() ==
                                                 doctest::Approx(want[i]).epsilon(1e-6));

  // One SGD step over the backbone's parameters (as the engine collects them: backbone->parameters()).
  net->train();
  const double lr = 0.1;
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(lr));
  std::vector<Tensor> before;
  for (const auto& p : net->parameters()) before.push_back(p.detach().clone());
  opt.zero_grad();
  net->forward(x).pow(2).sum().backward();
  std::vector<Tensor> grads;
  for (const auto& p : net->parameters()) {
    REQUIRE(p.grad().defined());  // the scripted module's graph reaches the registered tensors
    grads.push_back(p.grad().clone());
  }
  opt.step();
  const auto params = net->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    CHECK(torch::allclose(params[i], before[i] - lr * grads[i], 1e-6, 1e-7));  // p - lr * grad, by hand
    CHECK_FALSE(torch::equal(params[i], before[i]));
  }
  torch::NoGradGuard ng;
  net->eval();
  CHECK_FALSE(torch::allclose(net->forward(x), out));  // the scripted module itself was updated
}

TEST_CASE("torchscript: train and eval mode reach the scripted module - dropout and batch norm") {
  const fs::path dir = scratch("modes");
  python(dir, R"(
class Drop(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(2)
        self.drop = nn.Dropout(0.5)
    def forward(self, x):
        return self.drop(self.bn(x).flatten(1))
torch.jit.save(torch.jit.script(Drop()), "drop.pt")
)");
  auto net = load(dir / "drop.pt", 2, 4, 32);
  const auto buffers = net->named_buffers();
  REQUIRE(buffers.contains("bn.running_mean"));
  const Tensor mean0 = buffers["bn.running_mean"].clone();
  torch::manual_seed(1);
  const Tensor x = torch::randn({8, 2, 4, 4}) + 3;

  net->eval();
  torch::NoGradGuard ng;
  const Tensor e1 = net->forward(x), e2 = net->forward(x);
  CHECK(torch::equal(e1, e2));  // no dropout in eval mode
  CHECK(torch::equal(buffers["bn.running_mean"], mean0));
  // Eval batch norm with the initial statistics (mean 0, var 1, eps 1e-5) is x / sqrt(1 + 1e-5).
  CHECK(torch::allclose(e1, x.flatten(1) / std::sqrt(1 + 1e-5), 1e-5, 1e-6));

  net->train();
  const Tensor t = net->forward(x);
  // Dropout p = 0.5 in training: about half of the 256 outputs are zero, the others scaled by 2.
  const int64_t zeros = (t == 0).sum().item<int64_t>();
  CHECK(zeros > 64);
  CHECK(zeros < 192);
  CHECK_FALSE(torch::allclose(t, e1));
  // Batch norm in training updated its running mean (momentum 0.1 towards the batch mean, about 3).
  const Tensor batch_mean = x.mean({0, 2, 3});
  CHECK(torch::allclose(buffers["bn.running_mean"], 0.1 * batch_mean, 1e-4, 1e-5));

  // Device/dtype moves reach the scripted module: after to(kDouble) it computes in double.
  net->eval();
  net->to(torch::kDouble);
  for (const auto& b : net->named_buffers()) {
    CAPTURE(b.key());
    const bool want = b.value().scalar_type() ==
                      (b.key() == "bn.num_batches_tracked" ? torch::kLong : torch::kDouble);
    CHECK(want);
  }
  const bool in_double = net->forward(x.to(torch::kDouble)).scalar_type() == torch::kDouble;
  CHECK(in_double);
  if (torch::cuda::is_available()) {
    net->to(torch::Device(torch::kCUDA));
    for (const auto& p : net->buffers()) CHECK(p.device().is_cuda());
    CHECK(net->forward(x.to(torch::kDouble).cuda()).device().is_cuda());
  }
}

TEST_CASE("torchscript: an STSTNet scripted in Python trains to the C++ ststnet's loss curve") {
  const fs::path dir = scratch("ststnet");
  // The architecture of plugins/backbones/ststnet, written again in Python with the same attribute names.
  python(dir, R"(
class StstNet(nn.Module):
    def __init__(self, c: int = 3, p: float = 0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 3, 3, padding=2)
        self.bn1 = nn.BatchNorm2d(3)
        self.conv2 = nn.Conv2d(c, 5, 3, padding=2)
        self.bn2 = nn.BatchNorm2d(5)
        self.conv3 = nn.Conv2d(c, 8, 3, padding=2)
        self.bn3 = nn.BatchNorm2d(8)
        self.p = p
    def forward(self, x):
        s1 = F.dropout(F.max_pool2d(self.bn1(F.relu(self.conv1(x))), 3, stride=3, padding=1), self.p, self.training)
        s2 = F.dropout(F.max_pool2d(self.bn2(F.relu(self.conv2(x))), 3, stride=3, padding=1), self.p, self.training)
        s3 = F.dropout(F.max_pool2d(self.bn3(F.relu(self.conv3(x))), 3, stride=3, padding=1), self.p, self.training)
        return F.avg_pool2d(torch.cat([s1, s2, s3], 1), 2, stride=2).flatten(1)
torch.jit.save(torch.jit.script(StstNet()), "ststnet.pt")
)");
  torch::manual_seed(11);
  auto cxx = make<merx::Backbone>("ststnet");
  auto ts = load(dir / "ststnet.pt", 3, 28, 400);
  // The C++ module's weights and statistics copied into the scripted one, by name.
  {
    torch::NoGradGuard ng;
    auto dst_p = ts->named_parameters(), dst_b = ts->named_buffers();
    REQUIRE(dst_p.size() == cxx->named_parameters().size());
    for (const auto& p : cxx->named_parameters()) dst_p[p.key()].copy_(p.value());
    for (const auto& b : cxx->named_buffers()) dst_b[b.key()].copy_(b.value());
  }
  torch::nn::Linear head_a(400, 3), head_b(400, 3);
  {
    torch::NoGradGuard ng;
    head_b->weight.copy_(head_a->weight);
    head_b->bias.copy_(head_a->bias);
  }
  auto curve = [](merx::Backbone& net, torch::nn::Linear& head) {
    std::vector<Tensor> params = net.parameters();
    for (const auto& p : head->parameters()) params.push_back(p);
    torch::optim::Adam opt(params, torch::optim::AdamOptions(1e-3));
    net.train();
    std::vector<double> losses;
    for (int step = 0; step < 30; ++step) {
      torch::manual_seed(1000 + step);  // the same batch and the same dropout draws on both sides
      const Tensor x = torch::randn({16, 3, 28, 28});
      const Tensor y = torch::randint(0, 3, {16}, torch::kLong);
      opt.zero_grad();
      const Tensor loss = torch::nn::functional::cross_entropy(head->forward(net.forward(x)), y);
      loss.backward();
      opt.step();
      losses.push_back(loss.item<double>());
    }
    net.eval();
    torch::NoGradGuard ng;
    torch::manual_seed(5000);
    losses.push_back(torch::nn::functional::cross_entropy(head->forward(net.forward(torch::randn({16, 3, 28, 28}))),
                                                          torch::randint(0, 3, {16}, torch::kLong))
                         .item<double>());
    return losses;
  };
  // Tolerance: relative 1e-5 (about 100 float32 ulps of a loss near 1.1). Both sides run the same ATen
  // kernels in the same order, but the TorchScript executor may differentiate its graph with its own
  // symbolic gradient formulas, which can round differently; measured here: 0 (bit-identical curves).
  const std::vector<double> a = curve(*cxx, head_a), b = curve(*ts, head_b);
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / std::abs(a[i]));
  MESSAGE("ststnet C++ vs TorchScript: largest relative loss difference over 30 Adam steps + 1 eval: " << worst);
  CHECK(a.front() != a[a.size() - 2]);  // it trained
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(b[i] == doctest::Approx(a[i]).epsilon(1e-5));
  }
}

TEST_CASE("torchscript: bad model files are user errors naming the file and what was expected") {
  const fs::path dir = scratch("bad");
  python(dir, std::string(kMlp) + R"(
torch.save(m.state_dict(), "state_dict.pt")
import zipfile
with zipfile.ZipFile("mlp.pt") as src, zipfile.ZipFile("newer.pt", "w", zipfile.ZIP_STORED) as dst:
    for item in src.infolist():
        data = src.read(item.filename)
        if item.filename.endswith("/version"):
            data = b"99\n"   # a file format version no LibTorch 1.13 reads
        dst.writestr(item, data)
class Squeeze(nn.Module):
    def forward(self, x):
        return x.mean(1)
torch.jit.save(torch.jit.script(Squeeze()), "three_d.pt")
)");
  std::ofstream(dir / "text.pt") << "not a model\n";
  const json mlp = {{"model", (dir / "mlp.pt").string()}, {"channels", 3}, {"size", 8}, {"features", 5}};
  auto with = [&](const json& change) {
    json p = mlp;
    p.update(change);
    return error_of(p);
  };
  CHECK(error_of(mlp).empty());

  std::string e = with({{"model", (dir / "missing.pt").string()}});
  CHECK(e.find((dir / "missing.pt").string() + ": file not found") != std::string::npos);
  CHECK(with({{"model", ""}}).find("backbone.params.model is required") != std::string::npos);

  for (const char* f : {"text.pt", "state_dict.pt", "newer.pt"}) {
    CAPTURE(f);
    e = with({{"model", (dir / f).string()}});
    CHECK(e.find((dir / f).string()) != std::string::npos);
    CHECK(e.find("not a TorchScript archive that LibTorch 1.13.1 (Debian's libtorch-dev, the LibTorch merx "
                 "links) can load") != std::string::npos);
    CHECK(e.find("torch.export") != std::string::npos);
  }
  // LibTorch's own reason for the newer format is kept.
  CHECK(with({{"model", (dir / "newer.pt").string()}}).find("99") != std::string::npos);

  e = with({{"size", 16}});
  CHECK(e.find((dir / "mlp.pt").string()) != std::string::npos);
  CHECK(e.find("forward() does not accept the declared input [2, 3, 16, 16] = [B, channels, size, size]") !=
        std::string::npos);
  e = with({{"features", 7}});
  CHECK(e.find("forward() returned [2, 5], expected [B, F] = [2, 7]") != std::string::npos);
  e = with({{"features", 0}});
  CHECK(e.find("backbone.params.features is required") != std::string::npos);
  CHECK(e.find("so set features = 5") != std::string::npos);
  e = with({{"model", (dir / "three_d.pt").string()}, {"features", 8}});
  CHECK(e.find("forward() returned [2, 8, 8], expected [B, F] = [2, 8]") != std::string::npos);
}
