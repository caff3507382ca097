// A progress line on stderr for long CLI commands (merx prep, merx synth): a bar redrawn at most every
// 100 ms on a terminal, one line every 5 s otherwise, nothing under --quiet. tick() is thread-safe.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include <spdlog/spdlog.h>

namespace merx::cli {

class Progress {
 public:
  /// label: the command ("prep"); unit: what is counted ("samples").
  Progress(size_t total, std::string label, std::string unit)
      : total_(total),
        label_(std::move(label)),
        unit_(std::move(unit)),
        tty_(::isatty(STDERR_FILENO)),
        enabled_(spdlog::default_logger()->should_log(spdlog::level::info)),  // off under --quiet
        start_(clock::now()) {}

  /// One more item done.
  void tick() { update(++count_); }

  /// `n` items done (callers that count themselves).
  void update(size_t n) {
    if (!enabled_) return;
    const auto now = clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (n != total_ && now - last_ < (tty_ ? std::chrono::milliseconds(100) : std::chrono::seconds(5)))
      return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? n / secs : 0;
    const double eta = rate > 0 ? (total_ - n) / rate : 0;
    if (tty_) {
      const int width = 30, filled = total_ ? static_cast<int>(width * n / total_) : width;
      std::fprintf(stderr, "\r[%s%s] %zu/%zu  %.1f %s/s  ETA %.0f s ", std::string(filled, '#').c_str(),
                   std::string(width - filled, '.').c_str(), n, total_, rate, unit_.c_str(), eta);
      if (n == total_) std::fprintf(stderr, "\n");
    } else {
      std::fprintf(stderr, "%s: %zu/%zu %s, %.1f %s/s, ETA %.0f s\n", label_.c_str(), n, total_,
                   unit_.c_str(), rate, unit_.c_str(), eta);
    }
  }

 private:
  using clock = std::chrono::steady_clock;
  size_t total_;
  std::string label_, unit_;
  bool tty_, enabled_;
  clock::time_point start_, last_{};
  std::atomic<size_t> count_{0};
  std::mutex mutex_;
};

}  // namespace merx::cli
