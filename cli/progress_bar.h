#ifndef EASEL_CLI_PROGRESS_BAR_H_
#define EASEL_CLI_PROGRESS_BAR_H_

#include <string>

#include "easel/v1/resources.pb.h"

namespace easel::cli {

// A tqdm-style line: "train  45%|████▌     | 450/1000 [01:02<01:16, 7.21it/s, loss=0.113]".
std::string FormatProgress(const easel::v1::Progress& progress, double elapsed_seconds,
                           int bar_width = 20);

// "01:02", or "1:02:03" past an hour.
std::string FormatDuration(double seconds);

}  // namespace easel::cli

#endif  // EASEL_CLI_PROGRESS_BAR_H_
