#ifndef EASEL_CLI_CONFIG_H_
#define EASEL_CLI_CONFIG_H_

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace easel::cli {

// Settings from the config file, for what the environment and flags leave unset.
struct Config {
  std::string host;
  std::string token;
  std::string tls_ca;
};

// $EASEL_CONFIG, else $XDG_CONFIG_HOME/easel/config, else ~/.config/easel/config.
std::filesystem::path ConfigPath();

// Reads `key = value` lines (keys: host, token, tls_ca; # starts a comment). A missing file
// is an empty config; an unknown key or a line without "=" is INVALID_ARGUMENT naming the
// file and line.
absl::StatusOr<Config> ReadConfig(const std::filesystem::path& path);

}  // namespace easel::cli

#endif  // EASEL_CLI_CONFIG_H_
