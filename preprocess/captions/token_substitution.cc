#include "preprocess/captions/token_substitution.h"

#include <cctype>

namespace easel::preprocess {
namespace {

bool IsWordByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte >= 0x80 || std::isalnum(byte) || c == '_';
}

}  // namespace

std::string SubstituteTokenPlaceholder(std::string_view caption, std::string_view token_string) {
  std::string result;
  result.reserve(caption.size());
  size_t position = 0;
  while (position < caption.size()) {
    const size_t found = caption.find(kTokenPlaceholder, position);
    if (found == std::string_view::npos) break;
    const size_t end = found + kTokenPlaceholder.size();
    const bool starts_word = found == 0 || !IsWordByte(caption[found - 1]);
    const bool ends_word = end == caption.size() || !IsWordByte(caption[end]);
    result.append(caption.substr(position, found - position));
    if (starts_word && ends_word) {
      result.append(token_string);
      position = end;
    } else {
      result.push_back(caption[found]);
      position = found + 1;
    }
  }
  result.append(caption.substr(position));
  return result;
}

}  // namespace easel::preprocess
