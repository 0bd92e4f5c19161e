#include "coordinator/scheduler/progress_line.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace easel::coordinator {
namespace {

constexpr int kBarWidth = 10;
// tqdm's partial blocks, from empty to full in eighths.
constexpr const char* kEighths[] = {" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"};

// tqdm's format_interval: MM:SS, or H:MM:SS from an hour on.
std::string Interval(double seconds) {
  int64_t total = std::isfinite(seconds) ? std::max<int64_t>(0, std::llround(seconds)) : 0;
  int64_t hours = total / 3600, minutes = total / 60 % 60, secs = total % 60;
  if (hours > 0) return absl::StrFormat("%d:%02d:%02d", hours, minutes, secs);
  return absl::StrFormat("%02d:%02d", minutes, secs);
}

std::string Bar(double fraction) {
  int eighths = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * kBarWidth * 8);
  std::string bar;
  int full = eighths / 8;
  for (int i = 0; i < full; ++i) bar += kEighths[8];
  if (full < kBarWidth) {
    bar += kEighths[eighths % 8];
    bar += std::string(kBarWidth - full - 1, ' ');
  }
  return bar;
}

}  // namespace

std::string TqdmLine(const v1::Progress& progress) {
  double rate = progress.iterations_per_second();
  double elapsed = rate > 0 ? progress.step() / rate : 0;
  std::string rate_text = rate > 0 ? absl::StrFormat("%5.2fit/s", rate) : "?it/s";
  std::string postfix = absl::StrFormat(", loss=%.3g", progress.loss());
  if (progress.total() <= 0) {
    return absl::StrFormat("%d it [%s, %s%s]", progress.step(), Interval(elapsed), rate_text,
                           postfix);
  }
  double fraction = static_cast<double>(progress.step()) / progress.total();
  std::string remaining = rate > 0 ? Interval(progress.eta_seconds()) : "?";
  return absl::StrFormat("%4.0f%%|%s| %d/%d [%s<%s, %s%s]", fraction * 100, Bar(fraction),
                         progress.step(), progress.total(), Interval(elapsed), remaining, rate_text,
                         postfix);
}

}  // namespace easel::coordinator
