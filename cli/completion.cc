#include "cli/completion.h"

#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace easel::cli {
namespace {

// One command at some depth: its path (" trainings list") and the words that may follow it.
struct Level {
  std::string path;
  std::vector<std::string> words;
};

void Collect(const CLI::App& app, const std::string& path, std::vector<Level>& levels) {
  Level level{path, {}};
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    level.words.push_back(sub->get_name());
  }
  for (const CLI::Option* option : app.get_options([](const CLI::Option*) { return true; })) {
    for (const std::string& name : option->get_lnames()) level.words.push_back("--" + name);
    for (const std::string& name : option->get_snames()) level.words.push_back("-" + name);
  }
  levels.push_back(level);
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    Collect(*sub, absl::StrCat(path, " ", sub->get_name()), levels);
  }
}

}  // namespace

std::string BashCompletion(const CLI::App& app) {
  std::vector<Level> levels;
  Collect(app, "", levels);
  std::string name = app.get_name().empty() ? "easel" : app.get_name();
  std::string known_paths, cases;
  for (const Level& level : levels) {
    if (!level.path.empty()) absl::StrAppend(&known_paths, "|\"", level.path, "\"");
    absl::StrAppend(&cases, "    \"", level.path, "\") words=\"", absl::StrJoin(level.words, " "),
                    "\" ;;\n");
  }
  return absl::StrCat(
      "# bash completion for ", name, ": source <(", name, " completion bash)\n",
      "_", name, "() {\n",
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" word words\n",
      "  for word in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n",
      "    case \"$path $word\" in\n",
      "      ", known_paths.empty() ? "\"\"" : known_paths.substr(1), ") path=\"$path $word\" ;;\n",
      "    esac\n",
      "  done\n",
      "  case \"$path\" in\n", cases, "  esac\n",
      "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n",
      "}\n",
      "complete -o default -F _", name, " ", name, "\n");
}

std::string ZshCompletion(const CLI::App& app) {
  return absl::StrCat("autoload -U +X bashcompinit && bashcompinit\n", BashCompletion(app));
}

void AddCompletionCommand(CLI::App& app) {
  CLI::App* completion = app.add_subcommand(
      "completion", "Print a shell completion script: source <(easel completion bash)");
  auto shell = std::make_shared<std::string>();
  completion->add_option("shell", *shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->footer(
      "Examples:\n"
      "  source <(easel completion bash)        # this shell\n"
      "  easel completion bash > /etc/bash_completion.d/easel\n"
      "  echo 'source <(easel completion zsh)' >> ~/.zshrc");
  completion->callback([&app, shell] {
    std::string script = *shell == "zsh" ? ZshCompletion(app) : BashCompletion(app);
    std::fputs(script.c_str(), stdout);
  });
}

}  // namespace easel::cli
