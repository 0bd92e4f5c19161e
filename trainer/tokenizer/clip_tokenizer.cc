#include "trainer/tokenizer/clip_tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/tokenizer/added_tokens.h"
#include "trainer/tokenizer/clip_text.h"

namespace easel::tokenizer {
namespace {

constexpr size_t kClipMergeCount = 49152 - 256 - 2;
constexpr size_t kMaxCacheEntries = 100000;

// GPT-2/CLIP bytes_to_unicode, in its dictionary order: (byte, UTF-8 of its character).
const std::vector<std::pair<uint8_t, std::string>>& ByteUnicodeOrder() {
  static const auto* order = [] {
    auto* result = new std::vector<std::pair<uint8_t, std::string>>();
    std::vector<bool> printable(256, false);
    for (int b = '!'; b <= '~'; ++b) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
    for (int b = 0; b < 256; ++b) {
      if (printable[b]) result->emplace_back(b, CodepointToUtf8(b));
    }
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      if (!printable[b]) result->emplace_back(b, CodepointToUtf8(256 + n++));
    }
    return result;
  }();
  return *order;
}

const std::vector<std::string>& ByteEncoder() {
  static const auto* encoder = [] {
    auto* result = new std::vector<std::string>(256);
    for (const auto& [byte, text] : ByteUnicodeOrder()) (*result)[byte] = text;
    return result;
  }();
  return *encoder;
}


absl::StatusOr<std::string> ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read tokenizer file ", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::string> ReadGzip(const std::filesystem::path& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  }
  std::string out;
  char buffer[1 << 16];
  int read = 0;
  while ((read = gzread(file, buffer, sizeof(buffer))) > 0) out.append(buffer, read);
  int error = 0;
  const char* message = gzerror(file, &error);
  gzclose(file);
  if (read < 0 || (error != Z_OK && error != Z_STREAM_END)) {
    return absl::DataLossError(absl::StrCat("cannot decompress ", path.string(), ": ", message));
  }
  return out;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::string TokenContent(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return "";
}

absl::Status WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.flush();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CLIPTokenizer> CLIPTokenizer::FromVocabAndMerges(
    std::unordered_map<std::string, int64_t> vocab, const std::vector<std::string>& merges,
    int model_max_length, std::string_view pad_token) {
  CLIPTokenizer tokenizer;
  tokenizer.vocab_ = std::move(vocab);
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& merge = merges[i];
    if (merge.empty()) continue;
    const size_t space = merge.find(' ');
    if (space == std::string::npos || merge.find(' ', space + 1) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("merge ", i + 1, " \"", merge, "\" is not two symbols separated by a space"));
    }
    tokenizer.merge_ranks_.emplace(merge, static_cast<int>(i));
  }
  auto find = [&](std::string_view token) -> absl::StatusOr<int64_t> {
    auto it = tokenizer.vocab_.find(std::string(token));
    if (it == tokenizer.vocab_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer vocabulary lacks the token \"", std::string(token), "\""));
    }
    return it->second;
  };
  EASEL_ASSIGN_OR_RETURN(tokenizer.bos_id_, find(kStartOfText));
  EASEL_ASSIGN_OR_RETURN(tokenizer.eos_id_, find(kEndOfText));
  EASEL_ASSIGN_OR_RETURN(tokenizer.pad_id_, find(pad_token));
  tokenizer.unk_id_ = tokenizer.eos_id_;
  for (const auto& [token, id] : tokenizer.vocab_) {
    if (id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer vocabulary gives \"", token, "\" the negative id ", id));
    }
    tokenizer.base_vocab_size_ = std::max(tokenizer.base_vocab_size_, id + 1);
  }
  tokenizer.model_max_length_ = model_max_length;
  for (const auto& [byte, text] : ByteUnicodeOrder()) {
    if (!tokenizer.vocab_.count(text) || !tokenizer.vocab_.count(text + "</w>")) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer vocabulary lacks the byte token for byte ", byte));
    }
  }
  return tokenizer;
}

absl::StatusOr<CLIPTokenizer> CLIPTokenizer::FromDirectory(const std::filesystem::path& dir) {
  EASEL_ASSIGN_OR_RETURN(std::string vocab_text, ReadText(dir / "vocab.json"));
  EASEL_ASSIGN_OR_RETURN(std::string merges_text, ReadText(dir / "merges.txt"));
  nlohmann::json vocab_json = nlohmann::json::parse(vocab_text, nullptr, false);
  if (!vocab_json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat((dir / "vocab.json").string(), " is not a JSON object"));
  }
  std::unordered_map<std::string, int64_t> vocab;
  for (const auto& [token, id] : vocab_json.items()) {
    if (!id.is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat((dir / "vocab.json").string(), ": token \"",
                                                     token, "\" has a non-integer id"));
    }
    vocab.emplace(token, id.get<int64_t>());
  }
  std::vector<std::string> lines = SplitLines(merges_text);
  if (!lines.empty() && lines[0].rfind("#version", 0) == 0) lines.erase(lines.begin());
  if (lines.size() > kClipMergeCount) lines.resize(kClipMergeCount);
  int model_max_length = 77;
  std::string pad_token(kEndOfText);
  for (const char* name : {"special_tokens_map.json", "tokenizer_config.json"}) {
    const auto path = dir / name;
    if (!std::filesystem::exists(path)) continue;
    EASEL_ASSIGN_OR_RETURN(std::string text, ReadText(path));
    nlohmann::json config = nlohmann::json::parse(text, nullptr, false);
    if (!config.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path.string(), " is not a JSON object"));
    }
    if (config.contains("pad_token") && !TokenContent(config["pad_token"]).empty()) {
      pad_token = TokenContent(config["pad_token"]);
    }
    if (auto it = config.find("model_max_length"); it != config.end() && it->is_number()) {
      const double value = it->get<double>();
      if (value > 0 && value < 1e6) model_max_length = static_cast<int>(value);
    }
  }
  auto tokenizer = FromVocabAndMerges(std::move(vocab), lines, model_max_length, pad_token);
  if (!tokenizer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer in ", dir.string(), ": ",
                                                   std::string(tokenizer.status().message())));
  }
  EASEL_RETURN_IF_ERROR(tokenizer->AddRecordedTokens(dir));
  return tokenizer;
}

absl::StatusOr<CLIPTokenizer> CLIPTokenizer::WithPadToken(std::string_view pad_token) const {
  auto it = vocab_.find(std::string(pad_token));
  if (it == vocab_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("pad token \"", std::string(pad_token),
                                                   "\" is not in the vocabulary"));
  }
  CLIPTokenizer copy = *this;
  copy.pad_id_ = it->second;
  return copy;
}

absl::Status CLIPTokenizer::AddRecordedTokens(const std::filesystem::path& dir) {
  EASEL_ASSIGN_OR_RETURN(auto recorded, ReadAddedTokenFiles(dir));
  std::vector<std::string> new_tokens;
  for (const auto& [id, token] : recorded) {
    if (auto it = vocab_.find(token); it != vocab_.end()) {
      if (it->second == id) continue;  // a special token of the vocabulary, listed again
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer in ", dir.string(), ": added token \"", token, "\" has id ", id,
                       " but vocab.json gives it id ", it->second));
    }
    const int64_t expected = base_vocab_size_ + static_cast<int64_t>(new_tokens.size());
    if (id != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer in ", dir.string(), ": added token \"", token, "\" has id ", id,
          "; added tokens must follow the vocabulary's ids without gaps, so it should be ",
          expected));
    }
    new_tokens.push_back(token);
  }
  absl::Status added = AddTokens(new_tokens);
  if (!added.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer in ", dir.string(), ": ", added.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<CLIPTokenizer> CLIPTokenizer::FromMergesGz(const std::filesystem::path& path) {
  EASEL_ASSIGN_OR_RETURN(std::string text, ReadGzip(path));
  std::vector<std::string> lines = SplitLines(text);
  if (lines.size() < kClipMergeCount + 1) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " has ", lines.size(),
                                                   " lines; CLIP's merges file has at least ",
                                                   kClipMergeCount + 1));
  }
  std::vector<std::string> merges(lines.begin() + 1, lines.begin() + 1 + kClipMergeCount);
  std::unordered_map<std::string, int64_t> vocab;
  int64_t next = 0;
  for (const auto& [byte, unicode] : ByteUnicodeOrder()) vocab.emplace(unicode, next++);
  for (const auto& [byte, unicode] : ByteUnicodeOrder()) vocab.emplace(unicode + "</w>", next++);
  for (const auto& merge : merges) {
    std::string joined = merge;
    joined.erase(std::remove(joined.begin(), joined.end(), ' '), joined.end());
    vocab.emplace(joined, next++);
  }
  vocab.emplace(std::string(kStartOfText), next++);
  vocab.emplace(std::string(kEndOfText), next++);
  return FromVocabAndMerges(std::move(vocab), merges);
}

int64_t CLIPTokenizer::TokenId(std::string_view token) const {
  if (auto it = vocab_.find(std::string(token)); it != vocab_.end()) return it->second;
  if (added_ids_.empty()) return -1;
  auto it = added_ids_.find(Normalize(token));
  return it == added_ids_.end() ? -1 : it->second;
}

absl::Status CLIPTokenizer::CheckNewTokens(const std::vector<std::string>& tokens) const {
  std::unordered_set<std::string> keys;
  for (const std::string& token : tokens) {
    const std::string key = Normalize(token);
    if (key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot add the token \"", token, "\": it is empty or only whitespace"));
    }
    // As diffusers: the exact string must not be a vocabulary entry. Its lower-cased form may be
    // (e.g. "TOK" beside "tok"), unless that is a special token the matcher must not shadow.
    if (vocab_.count(token) || key == kStartOfText || key == kEndOfText) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot add the token \"", token, "\": it is already in the tokenizer's vocabulary"));
    }
    if (auto it = added_ids_.find(key); it != added_ids_.end()) {
      const std::string& existing = added_tokens_[it->second - base_vocab_size_];
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot add the token \"", token, "\": the tokenizer already has the added token \"",
          existing, "\" (id ", it->second, ")"));
    }
    if (!keys.insert(key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot add the token \"", token, "\": it is given twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status CLIPTokenizer::AddTokens(const std::vector<std::string>& tokens) {
  EASEL_RETURN_IF_ERROR(CheckNewTokens(tokens));
  for (const std::string& token : tokens) {
    added_ids_.emplace(Normalize(token), vocab_size());
    added_tokens_.push_back(token);
  }
  RebuildAddedTokenExpansions();
  return absl::OkStatus();
}

void CLIPTokenizer::RebuildAddedTokenExpansions() {
  added_expansions_.clear();
  longest_added_key_ = 0;
  for (const auto& [key, id] : added_ids_) {
    std::vector<int64_t> ids = {id};
    for (int i = 1;; ++i) {
      auto next = added_ids_.find(absl::StrCat(key, "_", i));
      if (next == added_ids_.end()) break;
      ids.push_back(next->second);
    }
    added_expansions_.emplace(key, std::move(ids));
    longest_added_key_ = std::max(longest_added_key_, key.size());
  }
}

std::vector<int64_t> CLIPTokenizer::AddedTokenIds(std::string_view token) const {
  if (added_expansions_.empty()) return {};
  auto it = added_expansions_.find(Normalize(token));
  return it == added_expansions_.end() ? std::vector<int64_t>{} : it->second;
}

absl::Status CLIPTokenizer::SaveAddedTokens(const std::filesystem::path& dir) const {
  return WriteAddedTokenFiles(dir, added_tokens_, base_vocab_size_);
}

absl::Status CLIPTokenizer::Save(const std::filesystem::path& dir) const {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot create ", dir.string()));
  std::vector<std::pair<int64_t, std::string>> by_id;
  by_id.reserve(vocab_.size());
  for (const auto& [token, id] : vocab_) by_id.emplace_back(id, token);
  std::sort(by_id.begin(), by_id.end());
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  std::string pad_token;
  for (const auto& [id, token] : by_id) {
    vocab[token] = id;
    if (id == pad_id_ && pad_token.empty()) pad_token = token;
  }
  EASEL_RETURN_IF_ERROR(WriteFile(dir / "vocab.json", vocab.dump()));

  std::vector<std::pair<int, std::string>> by_rank;
  by_rank.reserve(merge_ranks_.size());
  for (const auto& [merge, rank] : merge_ranks_) by_rank.emplace_back(rank, merge);
  std::sort(by_rank.begin(), by_rank.end());
  std::string merges = "#version: 0.2\n";
  for (const auto& [rank, merge] : by_rank) absl::StrAppend(&merges, merge, "\n");
  EASEL_RETURN_IF_ERROR(WriteFile(dir / "merges.txt", merges));

  nlohmann::json special = {{"bos_token", kStartOfText},
                            {"eos_token", kEndOfText},
                            {"unk_token", kEndOfText},
                            {"pad_token", pad_token}};
  EASEL_RETURN_IF_ERROR(WriteFile(dir / "special_tokens_map.json", special.dump(2)));
  nlohmann::json config = special;
  config.update({{"tokenizer_class", "CLIPTokenizer"},
                 {"model_max_length", model_max_length_},
                 {"do_lower_case", true},
                 {"errors", "replace"},
                 {"add_prefix_space", false}});
  EASEL_RETURN_IF_ERROR(WriteFile(dir / "tokenizer_config.json", config.dump(2)));
  if (added_tokens_.empty()) return absl::OkStatus();
  return SaveAddedTokens(dir);
}

const std::string* CLIPTokenizer::MatchAddedToken(std::string_view text, size_t pos) const {
  const std::string* best = nullptr;
  const std::string_view rest = text.substr(pos, longest_added_key_);
  for (const auto& [key, id] : added_ids_) {
    if (rest.substr(0, key.size()) == key && (best == nullptr || key.size() > best->size())) {
      best = &key;
    }
  }
  return best;
}

std::vector<int64_t> CLIPTokenizer::Bpe(const std::string& token) const {
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto it = cache_->entries.find(token);
    if (it != cache_->entries.end()) return it->second;
  }
  std::vector<int64_t> ids;
  if (token == kStartOfText || token == kEndOfText) {
    ids.push_back(token == kStartOfText ? bos_id_ : eos_id_);
  } else {
    const auto& encoder = ByteEncoder();
    std::vector<std::string> word;
    for (unsigned char c : token) word.push_back(encoder[c]);
    if (word.empty()) return ids;
    word.back() += "</w>";
    while (word.size() > 1) {
      int best_rank = std::numeric_limits<int>::max();
      std::string best;
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        auto it = merge_ranks_.find(word[i] + " " + word[i + 1]);
        if (it != merge_ranks_.end() && it->second < best_rank) {
          best_rank = it->second;
          best = it->first;
        }
      }
      if (best.empty()) break;
      const size_t space = best.find(' ');
      const std::string first = best.substr(0, space), second = best.substr(space + 1);
      std::vector<std::string> merged;
      for (size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
          merged.push_back(first + second);
          i += 2;
        } else {
          merged.push_back(word[i]);
          ++i;
        }
      }
      word = std::move(merged);
    }
    for (const auto& symbol : word) {
      auto it = vocab_.find(symbol);
      ids.push_back(it == vocab_.end() ? unk_id_ : it->second);
    }
  }
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->entries.size() >= kMaxCacheEntries) cache_->entries.clear();
  cache_->entries.emplace(token, ids);
  return ids;
}

void CLIPTokenizer::EncodeNormalized(std::string_view normalized,
                                     std::vector<int64_t>& ids) const {
  for (std::string_view piece : PreTokenize(normalized)) {
    std::vector<int64_t> piece_ids = Bpe(std::string(piece));
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  }
}

std::vector<int64_t> CLIPTokenizer::EncodeWithoutSpecialTokens(std::string_view text) const {
  std::vector<int64_t> ids;
  const std::string normalized = Normalize(text);
  if (added_ids_.empty()) {
    EncodeNormalized(normalized, ids);
    return ids;
  }
  // Leftmost-longest added tokens; the text between them goes through pre-tokenization and BPE.
  // <|startoftext|> / <|endoftext|> are stepped over whole so no added token matches inside.
  const std::string_view text_view = normalized;
  size_t segment_start = 0;
  size_t pos = 0;
  while (pos < text_view.size()) {
    const std::string_view rest = text_view.substr(pos);
    if (rest.rfind(kStartOfText, 0) == 0 || rest.rfind(kEndOfText, 0) == 0) {
      pos += rest.rfind(kStartOfText, 0) == 0 ? kStartOfText.size() : kEndOfText.size();
      continue;
    }
    const std::string* key = MatchAddedToken(text_view, pos);
    if (key == nullptr) {
      ++pos;
      continue;
    }
    EncodeNormalized(text_view.substr(segment_start, pos - segment_start), ids);
    const std::vector<int64_t>& expansion = added_expansions_.at(*key);
    ids.insert(ids.end(), expansion.begin(), expansion.end());
    pos += key->size();
    segment_start = pos;
  }
  EncodeNormalized(text_view.substr(segment_start), ids);
  return ids;
}

std::vector<int64_t> CLIPTokenizer::Encode(std::string_view text) const {
  std::vector<int64_t> ids = {bos_id_};
  std::vector<int64_t> body = EncodeWithoutSpecialTokens(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(eos_id_);
  return ids;
}

std::vector<int64_t> CLIPTokenizer::EncodePadded(std::string_view text, int max_length) const {
  std::vector<int64_t> ids = Encode(text);
  if (max_length < 2) max_length = 2;
  if (static_cast<int>(ids.size()) > max_length) {
    ids.resize(max_length - 1);
    ids.push_back(eos_id_);
  }
  ids.resize(max_length, pad_id_);
  return ids;
}

absl::Status WriteByteLevelTokenizer(const std::filesystem::path& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot create ", dir.string()));
  nlohmann::json vocab = nlohmann::json::object();
  int64_t next = 0;
  for (const auto& [byte, unicode] : ByteUnicodeOrder()) vocab[unicode] = next++;
  for (const auto& [byte, unicode] : ByteUnicodeOrder()) vocab[unicode + "</w>"] = next++;
  vocab[std::string(kStartOfText)] = next++;
  vocab[std::string(kEndOfText)] = next++;
  EASEL_RETURN_IF_ERROR(WriteFile(dir / "vocab.json", vocab.dump()));
  EASEL_RETURN_IF_ERROR(WriteFile(dir / "merges.txt", "#version: 0.2\n"));
  nlohmann::json config = {{"tokenizer_class", "CLIPTokenizer"},
                           {"model_max_length", 77},
                           {"bos_token", kStartOfText},
                           {"eos_token", kEndOfText},
                           {"unk_token", kEndOfText},
                           {"pad_token", kEndOfText},
                           {"do_lower_case", true},
                           {"errors", "replace"},
                           {"add_prefix_space", false}};
  EASEL_RETURN_IF_ERROR(WriteFile(dir / "tokenizer_config.json", config.dump(2)));
  nlohmann::json special = {{"bos_token", kStartOfText},
                            {"eos_token", kEndOfText},
                            {"unk_token", kEndOfText},
                            {"pad_token", kEndOfText}};
  return WriteFile(dir / "special_tokens_map.json", special.dump(2));
}

}  // namespace easel::tokenizer
