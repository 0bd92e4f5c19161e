#include "cli/progress_bar.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace easel::cli {

std::string FormatDuration(double seconds) {
  const int64_t total = std::max<int64_t>(0, static_cast<int64_t>(std::llround(seconds)));
  const int64_t hours = total / 3600, minutes = total / 60 % 60, secs = total % 60;
  if (hours > 0) return absl::StrFormat("%d:%02d:%02d", hours, minutes, secs);
  return absl::StrFormat("%02d:%02d", minutes, secs);
}

std::string FormatProgress(const easel::v1::Progress& progress, double elapsed_seconds,
                           int bar_width) {
  static const char* const kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  const double fraction =
      progress.total() > 0
          ? std::clamp(static_cast<double>(progress.step()) / progress.total(), 0.0, 1.0)
          : 0.0;
  const int eighths = static_cast<int>(fraction * bar_width * 8);
  std::string bar;
  for (int i = 0; i < eighths / 8; ++i) bar += "█";
  int cells = eighths / 8;
  if (cells < bar_width && eighths % 8 != 0) {
    bar += kEighths[eighths % 8];
    ++cells;
  }
  bar.append(static_cast<size_t>(bar_width - cells), ' ');
  const std::string rate = progress.iterations_per_second() > 0
                               ? absl::StrFormat("%.2fit/s", progress.iterations_per_second())
                               : "?it/s";
  std::string line = absl::StrFormat(
      "%s %3d%%|%s| %d/%d [%s<%s, %s", progress.phase().empty() ? "train" : progress.phase(),
      static_cast<int>(fraction * 100), bar, progress.step(), progress.total(),
      FormatDuration(elapsed_seconds), FormatDuration(progress.eta_seconds()), rate);
  if (progress.phase() != "preprocess") absl::StrAppend(&line, absl::StrFormat(", loss=%.3g", progress.loss()));
  absl::StrAppend(&line, "]");
  return line;
}

}  // namespace easel::cli
