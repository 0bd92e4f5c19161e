#include "trainer/tokenizer/clip_text.h"

#include <optional>

namespace easel::tokenizer {
namespace {

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

}  // namespace

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
}  // namespace easel::tokenizer
