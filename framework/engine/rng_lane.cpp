#include "engine/rng_lane.h"

#include <ATen/Context.h>
#include <torch/utils.h>

namespace merx::engine::detail {

std::mutex& default_generator_mutex() {
  static std::mutex m;
  return m;
}

namespace {
at::Generator generator(torch::Device device) {
  return at::globalContext().defaultGenerator(device);
}
}  // namespace

void RngLane::seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(default_generator_mutex());
  at::Generator cpu = generator(torch::kCPU);
  const torch::Tensor cpu_before = cpu.get_state();
  torch::Tensor cuda_before;
  if (device_.is_cuda()) cuda_before = generator(device_).get_state();
  torch::manual_seed(seed);  // the exact state a solo cell starts from (CPU and every CUDA device)
  cpu_state_ = cpu.get_state();
  if (device_.is_cuda()) cuda_state_ = generator(device_).get_state();
  cpu.set_state(cpu_before);
  if (device_.is_cuda()) generator(device_).set_state(cuda_before);
}

RngLane::Guard::Guard(RngLane& lane) : lane_(lane), lock_(default_generator_mutex()) {
  if (lane_.cpu_state_.defined()) generator(torch::kCPU).set_state(lane_.cpu_state_);
  if (lane_.cuda_state_.defined()) generator(lane_.device_).set_state(lane_.cuda_state_);
}

RngLane::Guard::~Guard() {
  if (!lane_.cpu_state_.defined()) return;
  lane_.cpu_state_ = generator(torch::kCPU).get_state();
  if (lane_.cuda_state_.defined()) lane_.cuda_state_ = generator(lane_.device_).get_state();
}

}  // namespace merx::engine::detail
