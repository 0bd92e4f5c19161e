// easel: the command line for people and scripts.

#include "CLI/CLI.hpp"
#include "cli/commands.h"
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
      "PEM file of the CA that signed the coordinator's certificate, calls go over TLS.");
  easel::cli::CommandContext context;
  context.host = easel::cli::DefaultHost();
  app.add_option("--host", context.host, "Coordinator address host:port")->capture_default_str();
  context.client = easel::ClientOptionsFromEnvironment();
  std::string tls_ca;
  app.add_option("--tls-ca", tls_ca, "PEM file of the coordinator's CA: connect over TLS")
      ->check(CLI::ExistingFile)
      ->each([&context](const std::string& path) { context.client.tls_ca_file = path; });
  easel::cli::AddTrainCommand(app, context);
  easel::cli::AddTrainingsCommands(app, context);
  easel::cli::AddModelsCommands(app, context);
  easel::cli::AddTokensCommands(app, context);
  CLI11_PARSE(app, argc, argv);
  return context.exit_code;
}
