#ifndef EASEL_CLI_COMMANDS_H_
#define EASEL_CLI_COMMANDS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "common/client_channel.h"

namespace easel::cli {

// Options shared by every command, and the exit code the chosen command sets.
struct CommandContext {
  std::string host;
  ClientOptions client;  // token and TLS
  int exit_code = 0;
};

void AddTrainCommand(CLI::App& app, CommandContext& context);
void AddTrainingsCommands(CLI::App& app, CommandContext& context);
void AddModelsCommands(CLI::App& app, CommandContext& context);
void AddTokensCommands(CLI::App& app, CommandContext& context);

}  // namespace easel::cli

#endif  // EASEL_CLI_COMMANDS_H_
