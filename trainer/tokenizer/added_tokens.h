#ifndef EASEL_TRAINER_TOKENIZER_ADDED_TOKENS_H_
#define EASEL_TRAINER_TOKENIZER_ADDED_TOKENS_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::tokenizer {

// The added tokens a transformers tokenizer directory records: added_tokens.json
// ({token: id}) and tokenizer_config.json's added_tokens_decoder ({"id": {"content": token}}),
// merged by id (special tokens such as <|endoftext|> are listed there too). Missing files give
// an empty map; two files naming different tokens for one id, or one token for two ids, is
// InvalidArgument naming the file, token and id.
absl::StatusOr<std::map<int64_t, std::string>> ReadAddedTokenFiles(
    const std::filesystem::path& dir);

// Writes added_tokens.json with `tokens` (ids first_id, first_id + 1, ...) and adds them to
// tokenizer_config.json's added_tokens_decoder (keeping the file's other fields and entries;
// creating it when missing).
absl::Status WriteAddedTokenFiles(const std::filesystem::path& dir,
                                  const std::vector<std::string>& tokens, int64_t first_id);

}  // namespace easel::tokenizer

#endif  // EASEL_TRAINER_TOKENIZER_ADDED_TOKENS_H_
