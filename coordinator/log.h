#ifndef EASEL_COORDINATOR_LOG_H_
#define EASEL_COORDINATOR_LOG_H_

#include <string_view>

namespace easel::coordinator {

// One timestamped line on stderr (stdout is reserved for the "listening" JSON line).
void LogInfo(std::string_view message);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_LOG_H_
