#include "cli/config.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace easel::cli {

std::filesystem::path ConfigPath() {
  if (const char* path = std::getenv("EASEL_CONFIG"); path != nullptr && *path != '\0') {
    return path;
  }
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "easel" / "config";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : ".") / ".config" / "easel" / "config";
}

absl::StatusOr<Config> ReadConfig(const std::filesystem::path& path) {
  Config config;
  std::ifstream in(path);
  if (!in) return config;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string text(absl::StripAsciiWhitespace(line.substr(0, line.find('#'))));
    if (text.empty()) continue;
    size_t equals = text.find('=');
    auto where = [&] { return absl::StrCat(path.string(), " line ", number, ": "); };
    if (equals == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "expected key = value"));
    }
    std::string key(absl::StripAsciiWhitespace(text.substr(0, equals)));
    std::string value(absl::StripAsciiWhitespace(text.substr(equals + 1)));
    if (key == "host") {
      config.host = value;
    } else if (key == "token") {
      config.token = value;
    } else if (key == "tls_ca") {
      config.tls_ca = value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "unknown key '", key, "'; the keys are host, token and tls_ca"));
    }
  }
  return config;
}

}  // namespace easel::cli
