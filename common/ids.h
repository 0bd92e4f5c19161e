#ifndef EASEL_COMMON_IDS_H_
#define EASEL_COMMON_IDS_H_

#include <string>

namespace easel {

// A random identifier of `length` lowercase base-32 characters (Replicate-style ids),
// drawn from the operating system's entropy source.
std::string NewId(int length = 26);

}  // namespace easel

#endif  // EASEL_COMMON_IDS_H_
