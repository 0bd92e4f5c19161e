#ifndef EASEL_COORDINATOR_STORE_TIMESTAMPS_H_
#define EASEL_COORDINATOR_STORE_TIMESTAMPS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace easel::coordinator {

// Times are stored as microseconds since the Unix epoch.
inline int64_t ToMicros(absl::Time time) { return absl::ToUnixMicros(time); }

inline google::protobuf::Timestamp MicrosToProto(int64_t micros) {
  google::protobuf::Timestamp timestamp;
  int64_t seconds = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --seconds;
  }
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(static_cast<int32_t>(rest * 1000));
  return timestamp;
}

inline int64_t ProtoToMicros(const google::protobuf::Timestamp& time) {
  return time.seconds() * 1000000 + time.nanos() / 1000;
}

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_STORE_TIMESTAMPS_H_
