// easel: the command line for people and scripts.
#include <cstdio>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "cli/completion.h"
#include "cli/config.h"
#include "cli/connection.h"

int main(int argc, char** argv) {
  CLI::App app{"easel: fine-tune image diffusion models on your own GPUs."};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  easel models create alice/tok-lora\n"
      "  easel train easel/tiny -d alice/tok-lora input_images=@photos.zip --follow\n"
      "  easel trainings list\n"
      "  easel weights download alice/tok-lora -o lora.safetensors\n\n"
      "The coordinator address comes from --host, else EASEL_HOST, else 127.0.0.1:7500.\n"
      "The API token comes from EASEL_API_TOKEN. With EASEL_TLS_CA (or --tls-ca) naming the\n"
      "PEM file of the CA that signed the coordinator's certificate, calls go over TLS.\n"
      "Unset ones come from the config file (EASEL_CONFIG, else ~/.config/easel/config):\n"
      "  host = gpu-box:7500\n  token = ...\n  tls_ca = /etc/easel/ca.pem\n"
      "Shell completion: source <(easel completion bash)");
  absl::StatusOr<easel::cli::Config> config = easel::cli::ReadConfig(easel::cli::ConfigPath());
  if (!config.ok()) {
    std::fprintf(stderr, "easel: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  easel::cli::CommandContext context;
  context.host = easel::cli::DefaultHost(config->host);
  app.add_option("--host", context.host, "Coordinator address host:port")->capture_default_str();
  context.client = easel::ClientOptionsFromEnvironment();
  if (context.client.token.empty()) context.client.token = config->token;
  if (context.client.tls_ca_file.empty()) context.client.tls_ca_file = config->tls_ca;
  std::string tls_ca;
  app.add_option("--tls-ca", tls_ca, "PEM file of the coordinator's CA: connect over TLS")
      ->check(CLI::ExistingFile)
      ->each([&context](const std::string& path) { context.client.tls_ca_file = path; });
  easel::cli::AddTrainCommand(app, context);
  easel::cli::AddTrainingsCommands(app, context);
  easel::cli::AddModelsCommands(app, context);
  easel::cli::AddTokensCommands(app, context);
  easel::cli::AddCompletionCommand(app);  // last: it lists the commands above
  CLI11_PARSE(app, argc, argv);
  return context.exit_code;
}
