#ifndef EASEL_TRAINER_TOKENIZER_CLIP_TOKENIZER_H_
#define EASEL_TRAINER_TOKENIZER_CLIP_TOKENIZER_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::tokenizer {

// OpenAI CLIP's byte-level BPE tokenizer (as in transformers' CLIPTokenizer).
// Character classes: ASCII letters/digits, and every byte >= 0x80 counts as a letter.
class CLIPTokenizer {
 public:
  // Reads vocab.json, merges.txt and (optional) tokenizer_config.json.
  static absl::StatusOr<CLIPTokenizer> FromDirectory(const std::filesystem::path& dir);
  // Builds from a vocabulary and merges (each "a b"), as in merges.txt without its header.
  static absl::StatusOr<CLIPTokenizer> FromVocabAndMerges(
      std::unordered_map<std::string, int64_t> vocab, const std::vector<std::string>& merges,
      int model_max_length = 77, std::string_view pad_token = "<|endoftext|>");
  // CLIP's original merges file (bpe_simple_vocab_16e6.txt.gz): the vocabulary is derived from
  // the merges, as OpenAI's tokenizer does (first 48894 merges).
  static absl::StatusOr<CLIPTokenizer> FromMergesGz(const std::filesystem::path& path);

  std::vector<int64_t> Encode(std::string_view text) const;  // BOS ... EOS, no truncation/padding
  // Truncates keeping EOS last, pads with pad id.
  std::vector<int64_t> EncodePadded(std::string_view text, int max_length = 77) const;

  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
  int model_max_length() const { return model_max_length_; }
  // Token id of a vocabulary string, or -1.
  int64_t TokenId(std::string_view token) const;

  // Ids of a piece of text without BOS/EOS (e.g. to find a trigger token's ids).
  std::vector<int64_t> EncodeWithoutSpecialTokens(std::string_view text) const;

 private:
  struct Cache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int64_t>> entries;
  };

  CLIPTokenizer() = default;
  std::vector<int64_t> Bpe(const std::string& token) const;

  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int> merge_ranks_;  // "first second" -> rank
  int64_t bos_id_ = 0;
  int64_t eos_id_ = 0;
  int64_t pad_id_ = 0;
  int model_max_length_ = 77;
  int64_t unk_id_ = 0;
  std::shared_ptr<Cache> cache_ = std::make_shared<Cache>();  // shared by copies
};

// Writes vocab.json / merges.txt / tokenizer_config.json / special_tokens_map.json for the
// byte-only vocabulary (256 byte characters, the same with "</w>", BOS, EOS: 514 ids).
absl::Status WriteByteLevelTokenizer(const std::filesystem::path& dir);

}  // namespace easel::tokenizer

#endif  // EASEL_TRAINER_TOKENIZER_CLIP_TOKENIZER_H_
