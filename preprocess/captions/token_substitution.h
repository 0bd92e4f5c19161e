#ifndef EASEL_PREPROCESS_CAPTIONS_TOKEN_SUBSTITUTION_H_
#define EASEL_PREPROCESS_CAPTIONS_TOKEN_SUBSTITUTION_H_

#include <string>
#include <string_view>

namespace easel::preprocess {

// The placeholder users write in captions and in caption_prefix for the trigger token.
inline constexpr std::string_view kTokenPlaceholder = "TOK";

// Replaces every whole-word, case-sensitive occurrence of kTokenPlaceholder in `caption` with
// `token_string`, in one pass (the replacement is not searched again). Whole word: the
// characters on either side are not ASCII letters, digits or '_' and not bytes of a multi-byte
// UTF-8 character. So "a photo of TOK, smiling" and "(TOK)" change; "TOKEN", "tok", "MY_TOK"
// and "TOKé" do not.
std::string SubstituteTokenPlaceholder(std::string_view caption, std::string_view token_string);

// True when `word` occurs in `text` as a whole word, by the rule above; an edge of `word` that
// is not a word character needs no boundary ("<sks>" is found in "x<sks>"). Case-sensitive.
bool ContainsWholeWord(std::string_view text, std::string_view word);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CAPTIONS_TOKEN_SUBSTITUTION_H_
