#include <iostream>

#include <opencv2/core/version.hpp>
#include <torch/cuda.h>
#include <torch/version.h>

#include "cli/commands.h"
#include "merx/buildinfo.h"
#include "merx/plugin_abi.h"

namespace merx::cli {

void print_version() {
  std::cout << "merx " << version_string() << " (commit " << git_commit() << ")\n"
            << "plugin ABI " << MERX_PLUGIN_ABI_MAJOR << "." << MERX_PLUGIN_ABI_MINOR << "\n"
            << "LibTorch " << TORCH_VERSION << "\n"
            << "OpenCV " << CV_VERSION << "\n"
            << "CUDA " << (torch::cuda::is_available() ? "available (" + std::to_string(torch::cuda::device_count()) + " devices)" : std::string("not available")) << "\n";
}

}  // namespace merx::cli
