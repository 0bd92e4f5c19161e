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
//
// Added tokens (textual inversion's placeholders, transformers' add_tokens): each takes the next
// id after the vocabulary and is matched as a whole, leftmost-longest, in the normalized
// (HTML-unescaped, whitespace-collapsed, lower-cased) text before pre-tokenization and BPE, so it
// is never split and "<Tok>" matches "<tok>"; it may sit inside a word, as transformers' added
// tokens do. Multi-vector tokens follow diffusers: an added token T for which T_1, T_2, ... are
// also added tokens encodes to the ids of T, T_1, T_2, ... (name only T in a prompt).
// Not thread-safe while tokens are being added; encoding is.
class CLIPTokenizer {
 public:
  // Reads vocab.json, merges.txt, (optional) special_tokens_map.json / tokenizer_config.json,
  // and the added tokens of added_tokens.json and tokenizer_config.json's added_tokens_decoder
  // (their ids must follow the vocabulary without gaps).
  static absl::StatusOr<CLIPTokenizer> FromDirectory(const std::filesystem::path& dir);
  // Builds from a vocabulary and merges (each "a b"), as in merges.txt without its header.
  static absl::StatusOr<CLIPTokenizer> FromVocabAndMerges(
      std::unordered_map<std::string, int64_t> vocab, const std::vector<std::string>& merges,
      int model_max_length = 77, std::string_view pad_token = "<|endoftext|>");
  // CLIP's original merges file (bpe_simple_vocab_16e6.txt.gz): the vocabulary is derived from
  // the merges, as OpenAI's tokenizer does (first 48894 merges).
  static absl::StatusOr<CLIPTokenizer> FromMergesGz(const std::filesystem::path& path);
  // A copy that pads with `pad_token` (a vocabulary entry) instead; InvalidArgument if absent.
  absl::StatusOr<CLIPTokenizer> WithPadToken(std::string_view pad_token) const;

  std::vector<int64_t> Encode(std::string_view text) const;  // BOS ... EOS, no truncation/padding
  // Truncates keeping EOS last, pads with pad id.
  std::vector<int64_t> EncodePadded(std::string_view text, int max_length = 77) const;

  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  // Number of ids, added tokens included (transformers' len(tokenizer)): a text encoder's token
  // table needs at least this many rows.
  int64_t vocab_size() const {
    return base_vocab_size_ + static_cast<int64_t>(added_tokens_.size());
  }
  // Ids of the vocabulary files alone (added tokens start here).
  int64_t base_vocab_size() const { return base_vocab_size_; }
  int model_max_length() const { return model_max_length_; }
  // Token id of a vocabulary string or of an added token (as added, or in its lower-cased
  // form), or -1.
  int64_t TokenId(std::string_view token) const;

  // Ids of a piece of text without BOS/EOS (e.g. to find a trigger token's ids).
  std::vector<int64_t> EncodeWithoutSpecialTokens(std::string_view text) const;

  // Adds tokens in order (ids vocab_size(), vocab_size() + 1, ...). All or nothing: an empty
  // token, one that is a vocabulary entry (exact string, as diffusers checks) or a special
  // token, one already added (compared lower-cased), or one given twice is InvalidArgument
  // naming it, and nothing is added.
  absl::Status AddTokens(const std::vector<std::string>& tokens);
  // The checks of AddTokens, without adding.
  absl::Status CheckNewTokens(const std::vector<std::string>& tokens) const;
  // Added tokens as given to AddTokens, in id order (the first has id base_vocab_size()).
  const std::vector<std::string>& added_tokens() const { return added_tokens_; }
  // The ids an added token encodes to: T, T_1, T_2, ... (diffusers' multi-vector rule); empty
  // when `token` is not an added token.
  std::vector<int64_t> AddedTokenIds(std::string_view token) const;
  // Writes added_tokens.json ({token: id}) and the added tokens into tokenizer_config.json's
  // added_tokens_decoder (creating the file when missing) in `dir`, as transformers'
  // save_pretrained does, so FromDirectory and transformers read them back.
  absl::Status SaveAddedTokens(const std::filesystem::path& dir) const;
  // Writes the whole tokenizer into `dir` as transformers lays it out: vocab.json (id order),
  // merges.txt (rank order), tokenizer_config.json and special_tokens_map.json (with this
  // tokenizer's pad token and model_max_length), and the added tokens. FromDirectory(dir)
  // reads back an equal tokenizer.
  absl::Status Save(const std::filesystem::path& dir) const;

 private:
  struct Cache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int64_t>> entries;
  };

  CLIPTokenizer() = default;
  std::vector<int64_t> Bpe(const std::string& token) const;
  // Pre-tokenization + BPE of normalized text that holds no added token.
  void EncodeNormalized(std::string_view normalized, std::vector<int64_t>& ids) const;
  // Key (normalized form) of the longest added token starting at text[pos], or nullptr.
  const std::string* MatchAddedToken(std::string_view text, size_t pos) const;
  void RebuildAddedTokenExpansions();
  // Adds the tokens that dir's added_tokens.json / tokenizer_config.json record.
  absl::Status AddRecordedTokens(const std::filesystem::path& dir);

  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int> merge_ranks_;  // "first second" -> rank
  int64_t bos_id_ = 0;
  int64_t eos_id_ = 0;
  int64_t pad_id_ = 0;
  int model_max_length_ = 77;
  int64_t unk_id_ = 0;
  int64_t base_vocab_size_ = 0;  // 1 + the largest vocabulary id
  std::vector<std::string> added_tokens_;
  // Normalized added token -> its id, and -> the ids it encodes to (multi-vector expansion).
  std::unordered_map<std::string, int64_t> added_ids_;
  std::unordered_map<std::string, std::vector<int64_t>> added_expansions_;
  size_t longest_added_key_ = 0;
  std::shared_ptr<Cache> cache_ = std::make_shared<Cache>();  // shared by copies
};

// Writes vocab.json / merges.txt / tokenizer_config.json / special_tokens_map.json for the
// byte-only vocabulary (256 byte characters, the same with "</w>", BOS, EOS: 514 ids).
absl::Status WriteByteLevelTokenizer(const std::filesystem::path& dir);

}  // namespace easel::tokenizer

#endif  // EASEL_TRAINER_TOKENIZER_CLIP_TOKENIZER_H_
