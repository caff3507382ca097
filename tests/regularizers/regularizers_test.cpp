// The regularizer plugins as built .so files, loaded through the plugin host (parameters resolved against
// their declarations exactly as a spec's would be). Expected values are computed by hand in each test
// (closed forms evaluated with <cmath>, never with the plugin's code); gradients are compared with central
// finite differences in double precision (every plugin is dtype-agnostic: the test moves it to double).
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "merx/errors.h"
#include "merx/plugins/registry.h"
#include "merx/regularizer.h"
#include "merx/spec/params_check.h"

#include "common/torch_doctest.h"  // after the torch headers

namespace {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;
using merx::json;
using torch::Tensor;

const torch::TensorOptions kF64 = torch::TensorOptions().dtype(torch::kDouble);
const torch::TensorOptions kI64 = torch::TensorOptions().dtype(torch::kLong);

const merx::PluginRegistry& registry() {
  static const merx::PluginRegistry reg = [] {
    merx::DiscoveryOptions o;
    o.default_dirs = false;
    o.environment = false;
    o.extra_dirs = {fs::path(MERX_BINARY_DIR) / "plugins"};
    return merx::PluginRegistry::discover(o);
  }();
  return reg;
}

// A regularizer with `given` checked against its declarations and defaults filled in (what a cell gets).
std::shared_ptr<merx::Regularizer> make(const std::string& name, const json& given = json::object()) {
  const merx::PluginInfo* info = registry().find(merx::PluginKind::Regularizer, name);
  REQUIRE_MESSAGE(info != nullptr, "regularizer plugin " << name << " not found");
  std::vector<merx::Problem> problems;
  const json resolved =
      merx::check_params(info->params, given, "regularizer.params", "regularizer `" + name + "`", problems);
  REQUIRE_MESSAGE(problems.empty(), (problems.empty() ? std::string() : problems[0].format()));
  return registry().create<merx::Regularizer>(name, resolved);
}

merx::RegularizerSetup setup_for(int64_t n_domains, int64_t features, int64_t classes, uint64_t seed = 11) {
  merx::RegularizerSetup s;
  for (int64_t d = 0; d < n_domains; ++d) s.source_domains.push_back("ds" + std::to_string(d));
  s.feature_dim = features;
  s.n_classes = classes;
  s.sampler = "domain_balanced";
  s.seed = seed;
  return s;
}

// make() + setup() + every parameter and buffer in double precision.
std::shared_ptr<merx::Regularizer> ready(const std::string& name, const json& given, int64_t n_domains,
                                         int64_t features, int64_t classes) {
  auto r = make(name, given);
  r->setup(setup_for(n_domains, features, classes));
  r->to(torch::kDouble);
  return r;
}

// One step's tensors: per-domain features (leaves, double), labels and the shared head; input() rebuilds
// logits and per-domain mean cross-entropy losses from the current values (so finite differences see them).
struct Batch {
  std::vector<Tensor> z;                    // [b, F] each, requires grad
  std::vector<Tensor> y;                    // [b] each
  mutable torch::nn::Linear head{nullptr};  // mutable: forward() is not const
  bool constant_losses = false;             // domain losses detached: L_cls then trains nothing
  int64_t step = 0;

  merx::StepInput input() const {
    merx::StepInput in;
    for (size_t d = 0; d < z.size(); ++d) {
      merx::DomainBatch db;
      db.domain = static_cast<int64_t>(d);
      db.features = z[d];
      db.logits = head->forward(z[d]);
      db.labels = y[d];
      const Tensor loss = F::cross_entropy(db.logits, db.labels);
      in.domain_losses.push_back(constant_losses ? loss.detach() : loss);
      in.domains.push_back(db);
    }
    in.head = head;
    in.step = step;
    in.total_steps = 1000;
    return in;
  }
};

Batch random_batch(int64_t n_domains, int64_t b, int64_t features, int64_t classes, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Batch bt;
  bt.head = torch::nn::Linear(features, classes);
  bt.head->to(torch::kDouble);
  {
    torch::NoGradGuard no_grad;
    bt.head->weight.copy_(torch::randn({classes, features}, gen, kF64) * 0.7);
    bt.head->bias.copy_(torch::randn({classes}, gen, kF64) * 0.3);
  }
  for (int64_t d = 0; d < n_domains; ++d) {
    // Domains differ in mean and scale, so alignment penalties are far from 0.
    bt.z.push_back((torch::randn({b, features}, gen, kF64) * (1.0 + 0.5 * d) + 0.4 * d).requires_grad_());
    bt.y.push_back(torch::randint(classes, {b}, gen, kI64));
  }
  return bt;
}

// A batch whose features are the given rows (one tensor per domain) and whose shared head is the identity
// (F = K), so logits = features.
Batch given_batch(const std::vector<std::vector<std::vector<double>>>& rows,
                  const std::vector<std::vector<int64_t>>& labels) {
  Batch bt;
  const int64_t f = static_cast<int64_t>(rows[0][0].size());
  bt.head = torch::nn::Linear(f, f);
  bt.head->to(torch::kDouble);
  {
    torch::NoGradGuard no_grad;
    bt.head->weight.copy_(torch::eye(f, kF64));
    bt.head->bias.zero_();
  }
  for (size_t d = 0; d < rows.size(); ++d) {
    std::vector<double> flat;
    for (const auto& r : rows[d]) flat.insert(flat.end(), r.begin(), r.end());
    bt.z.push_back(
        torch::tensor(flat, kF64).view({static_cast<int64_t>(rows[d].size()), f}).requires_grad_());
    bt.y.push_back(torch::tensor(labels[d], kI64));
  }
  return bt;
}

double part(const merx::Objective& o, const std::string& name) {
  for (const auto& [n, t] : o.components)
    if (n == name) return t.item<double>();
  FAIL("no component named " << name);
  return 0;
}

Tensor param(merx::Regularizer& r, const std::string& name) {
  auto params = r.named_parameters();
  REQUIRE_MESSAGE(params.contains(name), "no parameter " << name);
  return params[name];
}

void assign(const Tensor& t, const std::vector<double>& values) {
  torch::NoGradGuard no_grad;
  t.copy_(torch::tensor(values, kF64).view(t.sizes()));
}

// Autograd gradients of `total`; an input it does not depend on gets zeros.
std::vector<Tensor> grads(const Tensor& total, const std::vector<Tensor>& wrt) {
  auto g = torch::autograd::grad({total}, wrt, {}, /*retain_graph=*/true, /*create_graph=*/false,
                                 /*allow_unused=*/true);
  for (size_t i = 0; i < g.size(); ++i)
    if (!g[i].defined()) g[i] = torch::zeros_like(wrt[i]);
  return g;
}

// Central differences of f() with respect to every entry of `leaf` (contiguous double, changed in place
// and restored), step h.
Tensor numeric_grad(const std::function<double()>& f, const Tensor& leaf, double h = 1e-6) {
  REQUIRE(leaf.is_contiguous());
  REQUIRE((leaf.scalar_type() == torch::kDouble));
  Tensor g = torch::zeros_like(leaf).detach();
  double* p = leaf.data_ptr<double>();
  double* gp = g.data_ptr<double>();
  for (int64_t i = 0; i < leaf.numel(); ++i) {
    const double x0 = p[i];
    p[i] = x0 + h;
    const double up = f();
    p[i] = x0 - h;
    const double down = f();
    p[i] = x0;
    gp[i] = (up - down) / (2 * h);
  }
  return g;
}

double max_abs(const Tensor& t) {
  return t.abs().max().item<double>();
}

// |analytic − numeric| <= 1e-6 (1 + max |numeric|), and the gradient is not trivially zero.
void check_fd(const Tensor& analytic, const Tensor& numeric, const std::string& what) {
  INFO(what);
  INFO("analytic " << analytic << "\nnumeric " << numeric);
  CHECK(max_abs(numeric) > 1e-4);
  CHECK(max_abs(analytic - numeric) <= 1e-6 * (1 + max_abs(numeric)));
}

// brl's hand example (D = K = F = 2): shared head W = [[1, 2], [3, 4]], b = [0.5, -0.5]; W_0 - W =
// [[1, 0], [0, 2]], b_0 - b = [0, 1] (squared norm 6); W_1 - W = [[0.5, 0.5], [0, 0]], b_1 = b (0.5).
Batch hand_heads(merx::Regularizer& r) {
  Batch bt = random_batch(2, 3, 2, 2, 5);
  assign(bt.head->weight, {1, 2, 3, 4});
  assign(bt.head->bias, {0.5, -0.5});
  assign(param(r, "head0.weight"), {2, 2, 3, 6});
  assign(param(r, "head0.bias"), {0.5, 0.5});
  assign(param(r, "head1.weight"), {1.5, 2.5, 3, 4});
  assign(param(r, "head1.bias"), {0.5, -0.5});
  return bt;
}

// H(p) in nats.
double entropy(const std::vector<double>& p) {
  double h = 0;
  for (double v : p)
    if (v > 0) h -= v * std::log(v);
  return h;
}

}  // namespace

TEST_CASE("every regularizer plugin is accepted by the host with its declared parameters") {
  for (const std::string name : {"none", "brl", "coral", "mmd", "dann", "irm", "vrex", "groupdro", "confidence"}) {
    INFO(name);
    const merx::PluginInfo* info = registry().find(merx::PluginKind::Regularizer, name);
    REQUIRE(info != nullptr);
    CHECK(merx::param_decl_problems(info->params).empty());
    CHECK_FALSE(info->description.empty());
  }
  const merx::PluginInfo* brl = registry().find(merx::PluginKind::Regularizer, "brl");
  CHECK(brl->description.find("instantiation of the seed paper's abstract") != std::string::npos);
  CHECK(brl->description.find("full text not available") != std::string::npos);
  // The methods note's defaults and search ranges (methods.md section 5).
  auto decl = [&](const std::string& n) -> const merx::ParamDecl& {
    for (const auto& d : brl->params)
      if (d.name == n) return d;
    FAIL("brl has no parameter " << n);
    return brl->params.front();
  };
  CHECK(decl("alpha").default_value == 1.0);
  CHECK(decl("lambda_js").default_value == 1.0);
  CHECK(decl("lambda_w").default_value == 1e-3);
  CHECK(decl("beta").default_value == 0.1);
  CHECK(decl("tau").default_value == 1.0);
  CHECK(decl("lambda_js").search.kind == merx::Search::Kind::Log10Uniform);
  CHECK(decl("lambda_js").search.lo == -2);
  CHECK(decl("lambda_js").search.hi == 1);
  CHECK(decl("lambda_w").search.lo == -5);
  CHECK(decl("lambda_w").search.hi == -1);
  CHECK(decl("beta").search.lo == -3);
  CHECK(decl("beta").search.hi == 0);
  CHECK(decl("beta").search.zero_prob > 0);
}

TEST_CASE("brl refuses one source domain and a sampler that is not domain-balanced") {
  auto r = make("brl");
  CHECK(r->requirements().min_source_domains == 2);
  CHECK(r->requirements().needs_domain_balanced);
  try {
    r->setup(setup_for(1, 4, 3));
    FAIL("setup with one source domain did not throw");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("at least 2 source domains") != std::string::npos);
  }
  merx::RegularizerSetup shuffled = setup_for(2, 4, 3);
  shuffled.sampler = "shuffle";
  CHECK_THROWS_AS(make("brl")->setup(shuffled), std::invalid_argument);
  // The other requirements: IRM works on one domain; the pairwise methods need two.
  CHECK(make("irm")->requirements().min_source_domains == 1);
  for (const std::string name : {"coral", "mmd", "dann", "vrex", "groupdro"})
    CHECK_MESSAGE(make(name)->requirements().min_source_domains == 2, name);
  for (const std::string name : {"none", "coral", "mmd", "dann", "irm", "vrex", "groupdro"})
    CHECK_FALSE_MESSAGE(make(name)->requirements().needs_domain_balanced, name);
}

TEST_CASE("brl dataset heads are registered, seeded and exposed as one parameter group") {
  auto a = make("brl");
  a->setup(setup_for(3, 5, 4, /*seed=*/7));
  auto b = make("brl");
  b->setup(setup_for(3, 5, 4, /*seed=*/7));
  auto c = make("brl");
  c->setup(setup_for(3, 5, 4, /*seed=*/8));
  const auto groups = a->param_groups();
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].name == "brl.heads");
  REQUIRE(groups[0].parameters.size() == 6);  // weight and bias of 3 heads
  CHECK(groups[0].parameters[0].sizes() == torch::IntArrayRef({4, 5}));
  CHECK(groups[0].parameters[1].sizes() == torch::IntArrayRef({4}));
  CHECK(groups[0].parameters[0].is_same(param(*a, "head0.weight")));
  CHECK(groups[0].parameters[5].is_same(param(*a, "head2.bias")));
  CHECK(torch::equal(param(*a, "head1.weight"), param(*b, "head1.weight")));
  CHECK_FALSE(torch::equal(param(*a, "head1.weight"), param(*c, "head1.weight")));
  // nn.Linear's U(-1/sqrt(F), 1/sqrt(F)).
  CHECK(max_abs(param(*a, "head2.weight")) <= 1 / std::sqrt(5.0));
}

TEST_CASE("brl JS term is 0 for identical dataset heads") {
  auto r = ready("brl", json::object(), 2, 3, 3);
  {
    torch::NoGradGuard no_grad;
    param(*r, "head1.weight").copy_(param(*r, "head0.weight"));
    param(*r, "head1.bias").copy_(param(*r, "head0.bias"));
  }
  const Batch bt = random_batch(2, 4, 3, 3, 21);
  CHECK(std::abs(part(r->objective(bt.input()), "js")) < 1e-12);
}

TEST_CASE("brl JS term equals the analytic value for two hand-chosen distributions") {
  // One sample per domain, F = 1 with z = 1, K = 2. Head 0 gives logits (0, 0): p_0 = (0.5, 0.5). Head 1
  // gives logits (ln 0.9, ln 0.1): p_1 = (0.9, 0.1). Mixture (0.7, 0.3).
  Batch wide = given_batch({{{1.0}}, {{1.0}}}, {{0}, {1}});
  wide.head = torch::nn::Linear(1, 2);  // K = 2 (given_batch's identity head has K = F = 1)
  wide.head->to(torch::kDouble);
  auto set_heads = [](merx::Regularizer& r) {
    assign(param(r, "head0.weight"), {0.0, 0.0});
    assign(param(r, "head0.bias"), {0.0, 0.0});
    assign(param(r, "head1.weight"), {std::log(0.9), std::log(0.1)});
    assign(param(r, "head1.bias"), {0.0, 0.0});
  };
  auto r = ready("brl", json::object(), 2, 1, 2);
  set_heads(*r);
  const double expected = entropy({0.7, 0.3}) - 0.5 * (entropy({0.5, 0.5}) + entropy({0.9, 0.1}));
  CHECK(expected == doctest::Approx(0.1017492250791967).epsilon(1e-12));  // the same by a calculator
  CHECK(part(r->objective(wide.input()), "js") == doctest::Approx(expected).epsilon(1e-12));

  // tau = 2 halves the logits: p_1 = (sqrt 0.9, sqrt 0.1) / sum = (0.75, 0.25), mixture (0.625, 0.375).
  auto t = ready("brl", {{"tau", 2.0}}, 2, 1, 2);
  set_heads(*t);
  const double expected_t = entropy({0.625, 0.375}) - 0.5 * (entropy({0.5, 0.5}) + entropy({0.75, 0.25}));
  CHECK(part(t->objective(wide.input()), "js") == doctest::Approx(expected_t).epsilon(1e-12));
}

TEST_CASE("brl weight KL equals the squared distance of W_d and W over 2 sigma squared") {
  // D = 2, K = 2, F = 2, sigma = 1. W_0 - W = [[1, 0], [0, 2]], b_0 - b = [0, 1]: squared norm 6, KL 3.
  // W_1 - W = [[0.5, 0.5], [0, 0]], b_1 = b: squared norm 0.5, KL 0.25. L_w = (3 + 0.25) / 2.
  auto r = ready("brl", json::object(), 2, 2, 2);
  const Batch bt = hand_heads(*r);
  CHECK(part(r->objective(bt.input()), "w") == doctest::Approx(1.625).epsilon(1e-14));
}

TEST_CASE("brl total combines its terms with the methods note's default weights and is ERM with all off") {
  auto r = ready("brl", json::object(), 2, 3, 3);
  const Batch bt = random_batch(2, 4, 3, 3, 9);
  const merx::Objective o = r->objective(bt.input());
  const double expected = part(o, "cls") + 1.0 * part(o, "dom") + 1.0 * part(o, "js") + 1e-3 * part(o, "w") +
                          0.1 * part(o, "ent");
  CHECK(o.total.item<double>() == doctest::Approx(expected).epsilon(1e-12));
  CHECK(part(o, "js") >= 0);
  CHECK(part(o, "js") <= std::log(2.0));
  CHECK(part(o, "ent") <= 0);

  auto off = ready("brl", {{"alpha", 0}, {"lambda_js", 0}, {"lambda_w", 0}, {"beta", 0}}, 2, 3, 3);
  auto erm = ready("none", json::object(), 2, 3, 3);
  const merx::StepInput in = bt.input();
  const double by_hand = 0.5 * (in.domain_losses[0].item<double>() + in.domain_losses[1].item<double>());
  CHECK(off->objective(in).total.item<double>() == doctest::Approx(by_hand).epsilon(1e-14));
  CHECK(erm->objective(in).total.item<double>() == doctest::Approx(by_hand).epsilon(1e-14));
}

TEST_CASE("brl routes each term's gradient to exactly the parameters of the methods note") {
  // Domain losses detached, so only the term under test produces gradients. Features stand for the backbone
  // output (theta's only path), head for W, head0/head1 for W_d.
  struct Case {
    json weights;
    bool theta, w, wd;
  };
  const json off = {{"alpha", 0}, {"lambda_js", 0}, {"lambda_w", 0}, {"beta", 0}};
  auto with = [&](const std::string& k) {
    json j = off;
    j[k] = 1.0;
    return j;
  };
  const std::vector<Case> cases = {
      {with("alpha"), false, false, true},      // L_dom -> W_d only (features detached)
      {with("lambda_js"), true, false, false},  // L_js -> theta only (W_d detached)
      {with("lambda_w"), false, true, true},    // L_w -> W and W_d
      {with("beta"), true, true, false},        // L_ent -> theta and W
  };
  for (const Case& c : cases) {
    INFO(c.weights.dump());
    auto r = ready("brl", c.weights, 2, 3, 3);
    Batch bt = random_batch(2, 4, 3, 3, 13);
    bt.constant_losses = true;
    const Tensor total = r->objective(bt.input()).total;
    const auto g = grads(total, {bt.z[0], bt.z[1], bt.head->weight, bt.head->bias, param(*r, "head0.weight"),
                                 param(*r, "head1.bias")});
    CHECK((max_abs(g[0]) + max_abs(g[1]) > 1e-6) == c.theta);
    CHECK((max_abs(g[2]) + max_abs(g[3]) > 1e-6) == c.w);
    CHECK((max_abs(g[4]) + max_abs(g[5]) > 1e-6) == c.wd);
    if (!c.theta) CHECK(max_abs(g[0]) + max_abs(g[1]) == 0);
    if (!c.w) CHECK(max_abs(g[2]) + max_abs(g[3]) == 0);
    if (!c.wd) CHECK(max_abs(g[4]) + max_abs(g[5]) == 0);
  }
}

TEST_CASE("brl gradients match finite differences on the parameters each term trains") {
  const json off = {{"alpha", 0}, {"lambda_js", 0}, {"lambda_w", 0}, {"beta", 0}};
  auto with = [&](const std::string& k, double v) {
    json j = off;
    j[k] = v;
    return j;
  };
  struct Case {
    json weights;
    bool theta, w, wd;  // which parameters to compare (those the term trains, see the routing test)
  };
  const std::vector<Case> cases = {{with("alpha", 1.0), false, false, true},
                                   {with("lambda_js", 2.0), true, false, false},
                                   {with("lambda_w", 0.7), false, true, true},
                                   {with("beta", 0.5), true, true, false},
                                   {json{{"tau", 0.5}, {"lambda_w", 0.3}}, false, true, false}};
  for (const Case& c : cases) {
    INFO(c.weights.dump());
    auto r = ready("brl", c.weights, 2, 3, 3);
    const Batch bt = random_batch(2, 3, 3, 3, 17);
    auto f = [&] { return r->objective(bt.input()).total.item<double>(); };
    std::vector<std::pair<std::string, Tensor>> wrt;
    if (c.theta) wrt.insert(wrt.end(), {{"z0", bt.z[0]}, {"z1", bt.z[1]}});
    if (c.w) wrt.insert(wrt.end(), {{"W", bt.head->weight}, {"b", bt.head->bias}});
    if (c.wd)
      for (const std::string n : {"head0.weight", "head0.bias", "head1.weight", "head1.bias"})
        wrt.emplace_back(n, param(*r, n));
    std::vector<Tensor> leaves;
    for (const auto& [n, t] : wrt) leaves.push_back(t);
    const auto g = grads(r->objective(bt.input()).total, leaves);
    for (size_t i = 0; i < wrt.size(); ++i) check_fd(g[i], numeric_grad(f, wrt[i].second), wrt[i].first);
  }
}

TEST_CASE("coral is 0 for identical feature sets and equals the hand value for a 2-D example") {
  auto r = ready("coral", json::object(), 3, 2, 2);
  // X1 = {(0,0), (2,0), (0,2), (2,2)}: mean (1, 1), covariance (1/3) diag(4, 4).
  // X2 = {(1,1), (3,3)}: mean (2, 2), covariance [[2, 2], [2, 2]].
  // mean term: ((1-2)^2 + (1-2)^2) / 2 = 1; covariance term: ((4/3-2)^2 * 2 + 2^2 * 2) / 4 = 20/9.
  const std::vector<std::vector<double>> x1 = {{0, 0}, {2, 0}, {0, 2}, {2, 2}};
  const std::vector<std::vector<double>> x2 = {{1, 1}, {3, 3}};
  const Batch same = given_batch({x1, x1}, {{0, 1, 0, 1}, {1, 0, 1, 0}});
  CHECK(part(r->objective(same.input()), "coral") == 0.0);
  // Equal covariances, means (1, 1) and (2, 3): only the mean term, (1 + 4) / 2.
  const Batch shifted = given_batch({x1, {{1, 2}, {3, 2}, {1, 4}, {3, 4}}}, {{0, 1, 0, 1}, {1, 0, 1, 0}});
  CHECK(part(r->objective(shifted.input()), "coral") == doctest::Approx(2.5).epsilon(1e-14));
  const Batch two = given_batch({x1, x2}, {{0, 1, 0, 1}, {1, 0}});
  const merx::Objective o = r->objective(two.input());
  CHECK(part(o, "coral") == doctest::Approx(29.0 / 9.0).epsilon(1e-14));
  CHECK(o.total.item<double>() == doctest::Approx(part(o, "erm") + 1.0 * 29.0 / 9.0).epsilon(1e-14));
  // Three domains: the mean over the pairs (X1, X2), (X1, X1'), (X2, X1') = (29/9 + 0 + 29/9) / 3.
  const Batch three = given_batch({x1, x2, x1}, {{0, 1, 0, 1}, {1, 0}, {0, 0, 1, 1}});
  CHECK(part(r->objective(three.input()), "coral") == doctest::Approx(58.0 / 27.0).epsilon(1e-14));
}

TEST_CASE("mmd with one bandwidth equals the value computed by hand") {
  // X = {0, 1}, Y = {2} (F = 1), k(a, b) = exp(-0.5 (a - b)^2).
  // mean Kxx = (1 + e^-0.5 + e^-0.5 + 1) / 4, mean Kyy = 1, mean Kxy = (e^-2 + e^-0.5) / 2.
  const double kxx = (2 + 2 * std::exp(-0.5)) / 4, kyy = 1, kxy = (std::exp(-2.0) + std::exp(-0.5)) / 2;
  const double expected = kxx + kyy - 2 * kxy;
  auto r = ready("mmd", {{"kernel_gammas", "0.5"}, {"gamma", 2.0}}, 2, 1, 1);
  const Batch bt = given_batch({{{0}, {1}}, {{2}}}, {{0, 0}, {0}});
  const merx::Objective o = r->objective(bt.input());
  CHECK(part(o, "mmd") == doctest::Approx(expected).epsilon(1e-14));
  CHECK(o.total.item<double>() == doctest::Approx(part(o, "erm") + 2.0 * expected).epsilon(1e-14));
  // Two bandwidths: the kernels add.
  auto two = ready("mmd", {{"kernel_gammas", "0.5, 2"}}, 2, 1, 1);
  const double kxx2 = (2 + 2 * std::exp(-2.0)) / 4, kxy2 = (std::exp(-8.0) + std::exp(-2.0)) / 2;
  CHECK(part(two->objective(bt.input()), "mmd") ==
        doctest::Approx(expected + kxx2 + 1 - 2 * kxy2).epsilon(1e-14));
  // Identical sets give 0.
  const Batch same = given_batch({{{0}, {1}}, {{0}, {1}}}, {{0, 0}, {0, 0}});
  CHECK(std::abs(part(r->objective(same.input()), "mmd")) < 1e-15);
  // A malformed bandwidth list is the plugin's constructor error, reported by the host.
  CHECK_THROWS_AS(make("mmd", {{"kernel_gammas", "0.5,-1"}}), merx::UserError);
  CHECK_THROWS_AS(make("mmd", {{"kernel_gammas", "wide"}}), merx::UserError);
}

TEST_CASE("coral, mmd, irm and vrex gradients match finite differences") {
  struct Case {
    std::string name;
    json params;
    int64_t step;
  };
  const std::vector<Case> cases = {{"coral", {{"gamma", 3.0}}, 0},
                                   {"mmd", {{"kernel_gammas", "0.1,1"}}, 0},
                                   {"irm", {{"lambda", 10.0}, {"anneal_iters", 5}}, 5},
                                   {"irm", json::object(), 0},
                                   {"vrex", {{"lambda", 3.0}, {"anneal_iters", 0}}, 2}};
  for (const Case& c : cases) {
    INFO(c.name << " " << c.params.dump());
    auto r = ready(c.name, c.params, 3, 3, 3);
    Batch bt = random_batch(3, 4, 3, 3, 29);
    bt.step = c.step;
    auto f = [&] { return r->objective(bt.input()).total.item<double>(); };
    const std::vector<Tensor> leaves = {bt.z[0], bt.z[1], bt.z[2], bt.head->weight, bt.head->bias};
    const auto g = grads(r->objective(bt.input()).total, leaves);
    for (size_t i = 0; i < leaves.size(); ++i) check_fd(g[i], numeric_grad(f, leaves[i]), std::to_string(i));
  }
}

TEST_CASE("irm penalty equals the hand value and anneals with an optimizer reset") {
  // Logits s = features (identity head). For CE(w s, y) averaged over n samples, d/dw at w = 1 is
  // mean_i (sum_k softmax(s_i)_k s_ik - s_i,y_i). Even samples {0, 2}, odd samples {1, 3}.
  auto dw = [](const std::vector<std::vector<double>>& s, const std::vector<int>& y) {
    double sum = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const double e0 = std::exp(s[i][0]), e1 = std::exp(s[i][1]);
      sum += (e0 * s[i][0] + e1 * s[i][1]) / (e0 + e1) - s[i][y[i]];
    }
    return sum / static_cast<double>(s.size());
  };
  const std::vector<std::vector<double>> s = {{1, 0}, {0, 2}, {0.5, -0.5}, {3, 1}};
  const std::vector<int> y = {0, 0, 1, 1};
  const double p0 = dw({s[0], s[2]}, {y[0], y[2]}) * dw({s[1], s[3]}, {y[1], y[3]});
  CHECK(p0 != 0);
  // A second domain with its own two samples.
  const std::vector<std::vector<double>> t = {{2, -1}, {-1, 1}};
  const double p1 = dw({t[0]}, {1}) * dw({t[1]}, {1});
  Batch bt = given_batch({s, t}, {{0, 0, 1, 1}, {1, 1}});
  auto r = ready("irm", {{"lambda", 50.0}, {"anneal_iters", 3}}, 2, 2, 2);
  bt.step = 2;
  const merx::Objective before = r->objective(bt.input());
  CHECK(part(before, "irm_penalty") == doctest::Approx((p0 + p1) / 2).epsilon(1e-12));
  CHECK(before.total.item<double>() == doctest::Approx(part(before, "erm") + (p0 + p1) / 2).epsilon(1e-12));
  bt.step = 3;
  const merx::Objective after = r->objective(bt.input());
  CHECK(after.total.item<double>() ==
        doctest::Approx(part(after, "erm") + 50 * (p0 + p1) / 2).epsilon(1e-12));
  CHECK_FALSE(r->reset_optimizer_before(2));
  CHECK(r->reset_optimizer_before(3));
  CHECK_FALSE(r->reset_optimizer_before(4));
  // IRM accepts a single source domain.
  auto one = ready("irm", json::object(), 1, 2, 2);
  const Batch single = given_batch({s}, {{0, 0, 1, 1}});
  CHECK(part(one->objective(single.input()), "irm_penalty") == doctest::Approx(p0).epsilon(1e-12));
}

// A step whose per-domain losses are the given leaf values (features and labels only satisfy the checks).
merx::StepInput losses_step(const std::vector<Tensor>& losses, int64_t step = 0) {
  merx::StepInput in;
  for (size_t d = 0; d < losses.size(); ++d) {
    merx::DomainBatch db;
    db.domain = static_cast<int64_t>(d);
    db.features = torch::zeros({2, 1}, kF64);
    db.logits = torch::zeros({2, 2}, kF64);
    db.labels = torch::zeros({2}, kI64);
    in.domains.push_back(db);
    in.domain_losses.push_back(losses[d]);
  }
  in.step = step;
  return in;
}

TEST_CASE("vrex adds the population variance of the domain risks after the anneal") {
  // Risks 1, 2, 4: mean 7/3, variance ((4/3)^2 + (1/3)^2 + (5/3)^2) / 3 = 14/9.
  auto r = ready("vrex", {{"lambda", 6.0}, {"anneal_iters", 10}}, 3, 1, 2);
  std::vector<Tensor> risks;
  for (double v : {1.0, 2.0, 4.0}) risks.push_back(torch::tensor(v, kF64).requires_grad_());
  CHECK(r->objective(losses_step(risks, 9)).total.item<double>() ==
        doctest::Approx(7.0 / 3 + 14.0 / 9).epsilon(1e-14));
  const Tensor total = r->objective(losses_step(risks, 10)).total;
  CHECK(total.item<double>() == doctest::Approx(7.0 / 3 + 6 * 14.0 / 9).epsilon(1e-14));
  CHECK(r->reset_optimizer_before(10));
  CHECK_FALSE(r->reset_optimizer_before(9));
  // d/dR_e = 1/3 + lambda * 2 (R_e - 7/3) / 3.
  const auto g = grads(total, risks);
  const double expect[3] = {1.0 / 3 + 6 * 2 * (1 - 7.0 / 3) / 3, 1.0 / 3 + 6 * 2 * (2 - 7.0 / 3) / 3,
                            1.0 / 3 + 6 * 2 * (4 - 7.0 / 3) / 3};
  for (int e = 0; e < 3; ++e) CHECK(g[e].item<double>() == doctest::Approx(expect[e]).epsilon(1e-12));
}

TEST_CASE("groupdro weights follow the exponentiated-gradient update on a hand example") {
  auto r = ready("groupdro", {{"eta", 0.5}}, 2, 1, 2);
  auto q_now = [&] { return r->named_buffers()["q"]; };
  CHECK(torch::equal(q_now(), torch::ones({2}, kF64)));
  // Step 1, risks (1, 3): q = (e^0.5, e^1.5) / (e^0.5 + e^1.5) = (1, e) / (1 + e).
  const double e = std::exp(1.0);
  const double q1[2] = {1 / (1 + e), e / (1 + e)};
  std::vector<Tensor> risks = {torch::tensor(1.0, kF64).requires_grad_(),
                               torch::tensor(3.0, kF64).requires_grad_()};
  const Tensor t1 = r->objective(losses_step(risks)).total;
  CHECK(q_now()[0].item<double>() == doctest::Approx(q1[0]).epsilon(1e-14));
  CHECK(q_now()[1].item<double>() == doctest::Approx(q1[1]).epsilon(1e-14));
  CHECK(t1.item<double>() == doctest::Approx(q1[0] * 1 + q1[1] * 3).epsilon(1e-14));
  // The loss is linear in the risks with the (constant) weights q.
  const auto g = grads(t1, risks);
  CHECK(g[0].item<double>() == doctest::Approx(q1[0]).epsilon(1e-14));
  CHECK(g[1].item<double>() == doctest::Approx(q1[1]).epsilon(1e-14));
  // Step 2, risks (2, 1): q ∝ (q1_0 e^1, q1_1 e^0.5).
  const double u0 = q1[0] * std::exp(1.0), u1 = q1[1] * std::exp(0.5);
  const double q2[2] = {u0 / (u0 + u1), u1 / (u0 + u1)};
  risks = {torch::tensor(2.0, kF64), torch::tensor(1.0, kF64)};
  const Tensor t2 = r->objective(losses_step(risks)).total;
  CHECK(q_now()[0].item<double>() == doctest::Approx(q2[0]).epsilon(1e-14));
  CHECK(t2.item<double>() == doctest::Approx(q2[0] * 2 + q2[1] * 1).epsilon(1e-14));
}

TEST_CASE("dann reverses the discriminator's gradient into the features and trains the discriminator") {
  for (const double gp : {0.0, 0.5}) {
    INFO("grad_penalty " << gp);
    auto r = ready("dann", {{"lambda", 0.7}, {"mlp_width", 6}, {"grad_penalty", gp}}, 2, 3, 3);
    const auto groups = r->param_groups();
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].name == "dann.discriminator");
    CHECK(groups[0].lr == 1e-3);
    CHECK(groups[0].weight_decay == 0.0);
    REQUIRE(groups[0].parameters.size() == 6);  // mlp_depth 3: weight and bias of 3 Linear layers
    CHECK(groups[0].parameters[4].sizes() == torch::IntArrayRef({2, 6}));  // output: one logit per domain
    Batch bt = random_batch(2, 3, 3, 3, 31);
    bt.constant_losses = true;
    const Tensor total = r->objective(bt.input()).total;
    auto disc = [&] { return part(r->objective(bt.input()), "disc"); };
    // Features: the backbone receives -lambda times the discriminator loss gradient.
    const auto gz = grads(total, {bt.z[0], bt.z[1]});
    for (int d = 0; d < 2; ++d) check_fd(gz[d] / -0.7, numeric_grad(disc, bt.z[d]), "z" + std::to_string(d));
    // Discriminator parameters: the plain gradient of the objective.
    auto f = [&] { return r->objective(bt.input()).total.item<double>(); };
    const auto gd = grads(total, groups[0].parameters);
    for (size_t i = 0; i < gd.size(); i += 2)
      check_fd(gd[i], numeric_grad(f, groups[0].parameters[i]), "disc layer " + std::to_string(i / 2));
  }
  // A discriminator with all-zero weights predicts uniformly: L_disc = log D.
  auto r = ready("dann", json::object(), 2, 3, 3);
  for (const auto& p : r->parameters()) {
    torch::NoGradGuard no_grad;
    p.zero_();
  }
  CHECK(part(r->objective(random_batch(2, 3, 3, 3, 3).input()), "disc") ==
        doctest::Approx(std::log(2.0)).epsilon(1e-14));
}

TEST_CASE("regularizers reject a domain id outside their setup") {
  for (const std::string name : {"brl", "coral", "mmd", "dann", "irm", "vrex", "groupdro", "confidence"}) {
    INFO(name);
    auto r = ready(name, json::object(), 2, 3, 3);
    Batch bt = random_batch(2, 3, 3, 3, 1);
    merx::StepInput in = bt.input();
    in.domains[1].domain = 2;
    CHECK_THROWS_AS(r->objective(in), std::invalid_argument);
  }
}

// ---- BRL checks (issue 16): its diagnostics, the two controls, and that every weight does something ----

TEST_CASE("brl diagnostics report ||W_d - W||_F per source and their mean, after the first step") {
  // The weight KL test's heads: ||W_0 - W||^2 = 6 (bias included), ||W_1 - W||^2 = 0.5.
  auto r = ready("brl", json::object(), 2, 2, 2);
  CHECK(r->diagnostics().empty());  // no shared head seen yet
  const Batch bt = hand_heads(*r);
  r->objective(bt.input());
  const auto d = r->diagnostics();
  REQUIRE(d.size() == 3);
  CHECK(d[0].first == "w_dist/ds0");
  CHECK(d[0].second == doctest::Approx(std::sqrt(6.0)).epsilon(1e-14));
  CHECK(d[1].first == "w_dist/ds1");
  CHECK(d[1].second == doctest::Approx(std::sqrt(0.5)).epsilon(1e-14));
  CHECK(d[2].first == "w_dist/mean");
  CHECK(d[2].second == doctest::Approx((std::sqrt(6.0) + std::sqrt(0.5)) / 2).epsilon(1e-14));
  // The shared head is read when asked, not copied at the step: a later change of W shows.
  assign(bt.head->weight, {2, 2, 3, 6});
  assign(bt.head->bias, {0.5, 0.5});
  CHECK(r->diagnostics()[0].second == doctest::Approx(0.0));
}

TEST_CASE("confidence is ERM plus beta times minus the mean entropy, the same objective as brl's L_ent") {
  // Identity head, logits = features. Domain 0: (1, 0) label 0, (0, 0) label 1; domain 1: (ln 3, 0) label 1.
  // softmax: (e, 1)/(e + 1), (1/2, 1/2), (3/4, 1/4).
  const Batch bt = given_batch({{{1, 0}, {0, 0}}, {{std::log(3.0), 0}}}, {{0, 1}, {1}});
  const double e = std::exp(1.0);
  const double ce0 = (-std::log(e / (e + 1)) - std::log(0.5)) / 2, ce1 = -std::log(0.25);
  const double erm = (ce0 + ce1) / 2;
  const double ent = -(entropy({e / (e + 1), 1 / (e + 1)}) + entropy({0.5, 0.5}) + entropy({0.75, 0.25})) / 3;
  auto c = ready("confidence", {{"beta", 0.5}}, 2, 2, 2);
  const merx::Objective o = c->objective(bt.input());
  CHECK(part(o, "erm") == doctest::Approx(erm).epsilon(1e-14));
  CHECK(part(o, "ent") == doctest::Approx(ent).epsilon(1e-14));
  CHECK(o.total.item<double>() == doctest::Approx(erm + 0.5 * ent).epsilon(1e-14));
  CHECK(ready("confidence", {{"beta", 0}}, 2, 2, 2)->objective(bt.input()).total.item<double>() ==
        doctest::Approx(erm).epsilon(1e-14));
  // brl with only beta on: the same value and the same gradients on features and shared head.
  auto b = ready("brl", {{"alpha", 0}, {"lambda_js", 0}, {"lambda_w", 0}, {"beta", 0.5}}, 2, 2, 2);
  const Batch rb = random_batch(2, 3, 2, 2, 41);
  const Tensor tc = c->objective(rb.input()).total, tb = b->objective(rb.input()).total;
  CHECK(tc.item<double>() == doctest::Approx(tb.item<double>()).epsilon(1e-14));
  const std::vector<Tensor> leaves = {rb.z[0], rb.z[1], rb.head->weight, rb.head->bias};
  const auto gc = grads(tc, leaves), gb = grads(tb, leaves);
  for (size_t i = 0; i < leaves.size(); ++i) {
    CHECK(max_abs(gc[i]) > 1e-4);
    CHECK(max_abs(gc[i] - gb[i]) < 1e-14);
  }
  CHECK(c->param_groups().empty());
  CHECK(c->requirements().min_source_domains == 1);
}

TEST_CASE("brl with permuted domains fits each head on a random same-size share of the batch") {
  // One sample per domain: each step either keeps (head0 <- sample 0, head1 <- sample 1) or swaps them.
  const Batch bt = random_batch(2, 1, 2, 2, 43);
  auto truth = ready("brl", json::object(), 2, 2, 2);
  auto perm = ready("brl", {{"domains", "permuted"}}, 2, 2, 2);
  auto again = ready("brl", {{"domains", "permuted"}}, 2, 2, 2);
  CHECK(torch::equal(param(*truth, "head1.weight"), param(*perm, "head1.weight")));  // same initial heads
  auto ce = [&](merx::Regularizer& r, int head, int sample) {
    const Tensor w = param(r, "head" + std::to_string(head) + ".weight");
    const Tensor b = param(r, "head" + std::to_string(head) + ".bias");
    const Tensor z = bt.z[sample].detach();
    return F::cross_entropy(torch::addmm(b, z, w.t()), bt.y[sample]).item<double>();
  };
  const double kept = (ce(*perm, 0, 0) + ce(*perm, 1, 1)) / 2, swapped = (ce(*perm, 0, 1) + ce(*perm, 1, 0)) / 2;
  REQUIRE(std::abs(kept - swapped) > 1e-3);
  const merx::Objective t = truth->objective(bt.input());
  CHECK(part(t, "dom") == doctest::Approx(kept).epsilon(1e-14));
  int n_kept = 0, n_swapped = 0;
  for (int step = 0; step < 40; ++step) {
    const merx::Objective p = perm->objective(bt.input());
    const double dom = part(p, "dom");
    CHECK(dom == part(again->objective(bt.input()), "dom"));  // seeded: the same sequence
    if (std::abs(dom - kept) < 1e-12) ++n_kept;
    if (std::abs(dom - swapped) < 1e-12) ++n_swapped;
    // Only L_dom uses the domain ids.
    for (const std::string n : {"cls", "js", "w", "ent"}) CHECK(part(p, n) == part(t, n));
  }
  CHECK(n_kept + n_swapped == 40);
  CHECK(n_kept > 0);  // each has probability 2^-40 of never happening
  CHECK(n_swapped > 0);
}

namespace {

// A fixed problem trained as the engine does: linear backbone theta [F, Fin], shared head, the regularizer's
// heads, Adam (lr 1e-2) on one domain-balanced batch for `steps` steps. Returns every trained tensor
// (theta, W, b, then the regularizer's parameters) and the last diagnostics.
struct Trained {
  std::vector<Tensor> params;
  std::vector<std::pair<std::string, double>> diagnostics;
};

Trained train_fixed(const std::string& name, const json& given, int steps) {
  const int64_t D = 3, b = 6, Fin = 5, Fd = 4, K = 3;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(97);
  torch::nn::Linear theta(Fin, Fd);
  theta->to(torch::kDouble);
  Batch bt;
  bt.head = torch::nn::Linear(Fd, K);
  bt.head->to(torch::kDouble);
  std::vector<Tensor> x;
  {
    torch::NoGradGuard no_grad;
    theta->weight.copy_(torch::randn({Fd, Fin}, gen, kF64) * 0.5);
    theta->bias.zero_();
    bt.head->weight.copy_(torch::randn({K, Fd}, gen, kF64) * 0.5);
    bt.head->bias.zero_();
  }
  for (int64_t d = 0; d < D; ++d) {
    // Each domain its own input shift and a class rule that differs a little: the heads have something to fit.
    const Tensor y = torch::randint(K, {b}, gen, kI64);
    const Tensor xd = torch::randn({b, Fin}, gen, kF64) + 0.5 * static_cast<double>(d) +
                      torch::one_hot((y + d) % K, Fin).to(torch::kDouble) * 1.5;
    x.push_back(xd);
    bt.y.push_back(y);
  }
  auto r = ready(name, given, D, Fd, K);
  std::vector<Tensor> params = {theta->weight, theta->bias, bt.head->weight, bt.head->bias};
  for (auto& g : r->param_groups()) params.insert(params.end(), g.parameters.begin(), g.parameters.end());
  torch::optim::Adam opt(params, torch::optim::AdamOptions(1e-2));
  for (int s = 0; s < steps; ++s) {
    bt.z.clear();
    for (const auto& xd : x) bt.z.push_back(theta->forward(xd));
    bt.step = s;
    const Tensor total = r->objective(bt.input()).total;
    opt.zero_grad();
    total.backward();
    opt.step();
  }
  Trained out;
  for (const auto& p : params) out.params.push_back(p.detach().clone());
  out.diagnostics = r->diagnostics();
  return out;
}

double max_diff(const Trained& a, const Trained& b) {
  double m = 0;
  for (size_t i = 0; i < a.params.size(); ++i) m = std::max(m, max_abs(a.params[i] - b.params[i]));
  return m;
}

}  // namespace

TEST_CASE("every brl weight changes the trained weights after a few steps on a fixed batch") {
  const Trained base = train_fixed("brl", json::object(), 5);
  REQUIRE(base.params.size() == 4 + 6);
  // Each weight switched off, and lambda_w at its default 1e-3 against 0: not bit-identical.
  for (const std::string k : {"alpha", "lambda_js", "lambda_w", "beta"}) {
    INFO(k);
    const Trained off = train_fixed("brl", {{k, 0.0}}, 5);
    CHECK(max_diff(base, off) > 1e-7);
  }
  // tau acts through L_js.
  CHECK(max_diff(base, train_fixed("brl", {{"tau", 2.0}}, 5)) > 1e-7);
  // The null control trains differently, and confidence is not ERM.
  CHECK(max_diff(base, train_fixed("brl", {{"domains", "permuted"}}, 5)) > 1e-7);
  const Trained erm = train_fixed("none", json::object(), 5);
  const Trained conf = train_fixed("confidence", json::object(), 5);
  double d = 0;
  for (size_t i = 0; i < 4; ++i) d = std::max(d, max_abs(erm.params[i] - conf.params[i]));
  CHECK(d > 1e-7);
}

TEST_CASE("brl's ||W_d - W|| after training decreases monotonically with lambda_w") {
  std::vector<double> dist;
  for (const double lw : {0.0, 1e-3, 1e-1, 1.0, 10.0}) {
    const Trained t = train_fixed("brl", {{"lambda_w", lw}}, 30);
    REQUIRE(t.diagnostics.size() == 4);
    REQUIRE(t.diagnostics.back().first == "w_dist/mean");
    dist.push_back(t.diagnostics.back().second);
  }
  INFO("mean ||W_d - W|| for lambda_w 0, 1e-3, 0.1, 1, 10: " << dist[0] << " " << dist[1] << " " << dist[2]
                                                            << " " << dist[3] << " " << dist[4]);
  for (size_t i = 1; i < dist.size(); ++i) CHECK(dist[i] < dist[i - 1]);
  CHECK(dist[4] < 0.5 * dist[0]);  // the strongest pull does more than nudge
}
