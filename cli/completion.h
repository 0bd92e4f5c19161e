#ifndef EASEL_CLI_COMPLETION_H_
#define EASEL_CLI_COMPLETION_H_

#include <string>

#include "CLI/CLI.hpp"

namespace easel::cli {

// A bash completion script for `app`: its subcommands, and each command's options, at every
// level. Other words complete as file names (for key=@file inputs). Load it with
// `source <(easel completion bash)`.
std::string BashCompletion(const CLI::App& app);
// The same for zsh, through bashcompinit.
std::string ZshCompletion(const CLI::App& app);

// `easel completion bash|zsh`.
void AddCompletionCommand(CLI::App& app);

}  // namespace easel::cli

#endif  // EASEL_CLI_COMPLETION_H_
