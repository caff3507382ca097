#include "merx/engine/sampler.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "merx/hash.h"

namespace merx::engine {

uint64_t derive_seed(uint64_t cell_seed, std::string_view purpose) {
  return hash64(std::to_string(cell_seed) + "/" + std::string(purpose));
}

uint64_t Rng::below(uint64_t n) {
  if (n == 0) throw std::invalid_argument("Rng::below(0)");
  // Accept r only below the largest multiple of n: every residue is then equally likely.
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
  uint64_t r = gen_();
  while (r >= limit) r = gen_();
  return r % n;
}

BatchSampler::BatchSampler(std::string kind, int64_t batch, std::vector<SamplerItem> items, int64_t n_domains,
                           int64_t n_classes, uint64_t seed)
    : kind_(std::move(kind)), batch_(batch), n_items_(items.size()), rng_(seed) {
  if (batch_ < 1) throw std::invalid_argument("sampler: batch must be >= 1");
  if (items.empty()) throw std::invalid_argument("sampler: no training samples");
  for (const auto& it : items) {
    if (it.domain < 0 || it.domain >= n_domains)
      throw std::invalid_argument("sampler: domain index " + std::to_string(it.domain) + " outside [0, " +
                                  std::to_string(n_domains) + ")");
    if (it.label < 0 || it.label >= n_classes)
      throw std::invalid_argument("sampler: class index " + std::to_string(it.label) + " outside [0, " +
                                  std::to_string(n_classes) + ")");
  }
  const auto ceil_div = [](size_t a, size_t b) { return static_cast<int64_t>((a + b - 1) / b); };
  if (kind_ == "domain_balanced") {
    pools_.resize(static_cast<size_t>(n_domains));
    for (size_t i = 0; i < items.size(); ++i)
      pools_[static_cast<size_t>(items[i].domain)].members.push_back(i);
    size_t largest = 0;
    for (size_t d = 0; d < pools_.size(); ++d) {
      if (pools_[d].members.empty())
        throw std::invalid_argument("sampler domain_balanced: source " + std::to_string(d) +
                                    " has no samples");
      largest = std::max(largest, pools_[d].members.size());
    }
    steps_ = ceil_div(largest, static_cast<size_t>(batch_));
  } else if (kind_ == "class_balanced") {
    std::vector<Cycle> by_class(static_cast<size_t>(n_classes));
    for (size_t i = 0; i < items.size(); ++i)
      by_class[static_cast<size_t>(items[i].label)].members.push_back(i);
    for (auto& c : by_class)
      if (!c.members.empty()) pools_.push_back(std::move(c));  // classes present, in class order
    steps_ = ceil_div(items.size(), static_cast<size_t>(batch_));
  } else if (kind_ == "shuffle") {
    pools_.resize(1);
    for (size_t i = 0; i < items.size(); ++i) pools_[0].members.push_back(i);
    steps_ = ceil_div(items.size(), static_cast<size_t>(batch_));
  } else {
    throw std::invalid_argument("sampler: unknown kind '" + kind_ +
                                "' (domain_balanced, class_balanced, shuffle)");
  }
}

void BatchSampler::restart(Cycle& c) {
  c.order = c.members;
  rng_.shuffle(c.order);
  c.pos = 0;
}

size_t BatchSampler::draw(Cycle& c) {
  if (c.pos == c.order.size()) restart(c);
  return c.order[c.pos++];
}

std::vector<std::vector<size_t>> BatchSampler::next_epoch() {
  std::vector<std::vector<size_t>> epoch(static_cast<size_t>(steps_));
  const size_t b = static_cast<size_t>(batch_);
  for (auto& c : pools_) restart(c);  // every epoch starts fresh permutations
  if (kind_ == "domain_balanced") {
    for (auto& batch : epoch) {
      batch.reserve(b * pools_.size());
      for (auto& c : pools_)
        for (size_t j = 0; j < b; ++j) batch.push_back(draw(c));
    }
  } else if (kind_ == "class_balanced") {
    const size_t k = pools_.size(), share = b / k, extra = b % k;
    for (auto& batch : epoch) {
      batch.reserve(b);
      for (size_t c = 0; c < k; ++c) {
        const bool gets_extra = (c + k - rotation_) % k < extra;
        for (size_t j = 0; j < share + (gets_extra ? 1 : 0); ++j) batch.push_back(draw(pools_[c]));
      }
      rotation_ = (rotation_ + extra) % k;
    }
  } else {  // shuffle: one permutation cut into batches
    const auto& order = pools_[0].order;
    for (size_t s = 0; s < epoch.size(); ++s) {
      const size_t lo = s * b, hi = std::min(order.size(), lo + b);
      epoch[s].assign(order.begin() + static_cast<std::ptrdiff_t>(lo),
                      order.begin() + static_cast<std::ptrdiff_t>(hi));
    }
  }
  return epoch;
}

}  // namespace merx::engine
