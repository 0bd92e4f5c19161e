#ifndef EASEL_TRAINER_TOKENIZER_CLIP_TEXT_H_
#define EASEL_TRAINER_TOKENIZER_CLIP_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace easel::tokenizer {

// CLIP's special tokens, kept whole by PreTokenize.
inline constexpr std::string_view kStartOfText = "<|startoftext|>";
inline constexpr std::string_view kEndOfText = "<|endoftext|>";

// The UTF-8 bytes of a Unicode code point.
std::string CodepointToUtf8(uint32_t cp);

// CLIP's text cleaning: basic_clean (HTML unescaped twice) + whitespace_clean + lower()
// (ASCII letters).
std::string Normalize(std::string_view raw);

// CLIP's pattern on normalized text: special tokens | 's|'t|'re|'ve|'m|'ll|'d | letters+ |
// digit | other+; whitespace separates. Character classes: ASCII letters/digits, and every
// byte >= 0x80 counts as a letter. The pieces view `text`.
std::vector<std::string_view> PreTokenize(std::string_view text);

}  // namespace easel::tokenizer

#endif  // EASEL_TRAINER_TOKENIZER_CLIP_TEXT_H_
