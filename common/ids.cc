#include "common/ids.h"

#include <random>

namespace easel {

std::string NewId(int length) {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  thread_local std::random_device device;
  std::string id;
  id.reserve(length);
  for (int i = 0; i < length; ++i) id.push_back(kAlphabet[device() % 32]);
  return id;
}

}  // namespace easel
