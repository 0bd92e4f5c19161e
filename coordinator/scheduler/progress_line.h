#ifndef EASEL_COORDINATOR_SCHEDULER_PROGRESS_LINE_H_
#define EASEL_COORDINATOR_SCHEDULER_PROGRESS_LINE_H_

#include <string>

#include "easel/v1/resources.pb.h"

namespace easel::coordinator {

// A progress report as the log line tqdm would print, so that clients which read progress from
// logs (as Replicate's do) see it:
//   "  45%|████▌     | 450/1000 [01:02<01:16,  7.21it/s, loss=0.113]"
// Elapsed time is steps / rate; a report without a total shows the step and rate only.
std::string TqdmLine(const v1::Progress& progress);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_SCHEDULER_PROGRESS_LINE_H_
