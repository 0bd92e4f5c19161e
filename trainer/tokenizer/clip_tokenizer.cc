#include "trainer/tokenizer/clip_tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace easel::tokenizer {
namespace {

constexpr std::string_view kStartOfText = "<|startoftext|>";
constexpr std::string_view kEndOfText = "<|endoftext|>";
constexpr size_t kClipMergeCount = 49152 - 256 - 2;
constexpr size_t kMaxCacheEntries = 100000;

std::string CodepointToUtf8(uint32_t cp) {
  std::string out;
  if (cp >= 0x10000) {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

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

bool IsSpace(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
}
bool IsLetter(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

// html.unescape for numeric references and the common named entities.
std::string UnescapeHtml(std::string_view text) {
  static const std::pair<std::string_view, uint32_t> kNamed[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0}};
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '&') {
      const size_t semicolon = text.find(';', i + 1);
      if (semicolon != std::string_view::npos && semicolon - i <= 10) {
        std::string_view name = text.substr(i + 1, semicolon - i - 1);
        std::optional<uint32_t> codepoint;
        if (name.size() > 1 && name[0] == '#') {
          const bool hex = name[1] == 'x' || name[1] == 'X';
          std::string digits(name.substr(hex ? 2 : 1));
          if (!digits.empty() && digits.find_first_not_of(hex ? "0123456789abcdefABCDEF"
                                                              : "0123456789") == std::string::npos) {
            const unsigned long value = std::stoul(digits, nullptr, hex ? 16 : 10);
            if (value > 0 && value < 0x110000) codepoint = static_cast<uint32_t>(value);
          }
        } else {
          for (const auto& [entity, value] : kNamed) {
            if (name == entity) codepoint = value;
          }
        }
        if (codepoint) {
          out += CodepointToUtf8(*codepoint);
          i = semicolon + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

// basic_clean (HTML unescaped twice) + whitespace_clean + lower().
std::string Normalize(std::string_view raw) {
  const std::string unescaped = UnescapeHtml(UnescapeHtml(raw));
  std::string_view text = unescaped;
  std::string out;
  bool pending_space = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = text[i];
    const bool nbsp = c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xA0;
    if (IsSpace(c) || nbsp) {
      if (nbsp) ++i;
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return out;
}

// CLIP's pattern: special tokens | 's|'t|'re|'ve|'m|'ll|'d | letters+ | digit | other+.
std::vector<std::string_view> PreTokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  size_t i = 0;
  const size_t n = text.size();
  auto starts_with = [&](std::string_view prefix) { return text.substr(i, prefix.size()) == prefix; };
  while (i < n) {
    const unsigned char c = text[i];
    if (starts_with(kStartOfText)) {
      pieces.push_back(text.substr(i, kStartOfText.size()));
      i += kStartOfText.size();
      continue;
    }
    if (starts_with(kEndOfText)) {
      pieces.push_back(text.substr(i, kEndOfText.size()));
      i += kEndOfText.size();
      continue;
    }
    if (c == '\'') {
      bool matched = false;
      for (std::string_view suffix : {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) {
        if (starts_with(suffix)) {
          pieces.push_back(text.substr(i, suffix.size()));
          i += suffix.size();
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    size_t j = i;
    if (IsLetter(c)) {
      while (j < n && IsLetter(text[j])) ++j;
    } else if (IsDigit(c)) {
      j = i + 1;
    } else if (IsSpace(c)) {
      ++i;
      continue;
    } else {
      while (j < n && !IsSpace(text[j]) && !IsLetter(text[j]) && !IsDigit(text[j])) ++j;
    }
    pieces.push_back(text.substr(i, j - i));
    i = j;
  }
  return pieces;
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
  return tokenizer;
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
  auto it = vocab_.find(std::string(token));
  return it == vocab_.end() ? -1 : it->second;
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

std::vector<int64_t> CLIPTokenizer::EncodeWithoutSpecialTokens(std::string_view text) const {
  std::vector<int64_t> ids;
  const std::string normalized = Normalize(text);
  for (std::string_view piece : PreTokenize(normalized)) {
    std::vector<int64_t> piece_ids = Bpe(std::string(piece));
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  }
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
