#include "preprocess/captions/token_substitution.h"

#include <cctype>

namespace easel::preprocess {
namespace {

bool IsWordByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte >= 0x80 || std::isalnum(byte) || c == '_';
}

bool IsWholeWordAt(std::string_view text, size_t found, size_t length) {
  const size_t end = found + length;
  const bool starts_word = found == 0 || !IsWordByte(text[found - 1]) || !IsWordByte(text[found]);
  const bool ends_word = end == text.size() || !IsWordByte(text[end]) || !IsWordByte(text[end - 1]);
  return starts_word && ends_word;
}

}  // namespace

std::string SubstituteTokenPlaceholder(std::string_view caption, std::string_view token_string) {
  std::string result;
  result.reserve(caption.size());
  size_t position = 0;
  while (position < caption.size()) {
    const size_t found = caption.find(kTokenPlaceholder, position);
    if (found == std::string_view::npos) break;
    result.append(caption.substr(position, found - position));
    if (IsWholeWordAt(caption, found, kTokenPlaceholder.size())) {
      result.append(token_string);
      position = found + kTokenPlaceholder.size();
    } else {
      result.push_back(caption[found]);
      position = found + 1;
    }
  }
  result.append(caption.substr(position));
  return result;
}

bool ContainsWholeWord(std::string_view text, std::string_view word) {
  if (word.empty()) return false;
  for (size_t found = text.find(word); found != std::string_view::npos;
       found = text.find(word, found + 1)) {
    if (IsWholeWordAt(text, found, word.size())) return true;
  }
  return false;
}

}  // namespace easel::preprocess
