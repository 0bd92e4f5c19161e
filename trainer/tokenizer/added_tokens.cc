#include "trainer/tokenizer/added_tokens.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace easel::tokenizer {
namespace {

constexpr char kAddedTokensFile[] = "added_tokens.json";
constexpr char kConfigFile[] = "tokenizer_config.json";

// The file's JSON object, or an empty object when the file does not exist.
absl::StatusOr<nlohmann::json> ReadJsonObject(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return nlohmann::json::object();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read tokenizer file ", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(buffer.str(), nullptr, false);
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is not a JSON object"));
  }
  return json;
}

absl::Status WriteJson(const std::filesystem::path& path, const nlohmann::json& json) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << json.dump(2);
  out.flush();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

// Records id -> token, rejecting an id or a token that already maps elsewhere.
class AddedTokenMap {
 public:
  absl::Status Add(int64_t id, const std::string& token, const std::filesystem::path& source) {
    if (id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source.string(), ": added token \"", token, "\" has negative id ", id));
    }
    if (auto it = by_id_.find(id); it != by_id_.end() && it->second != token) {
      return absl::InvalidArgumentError(
          absl::StrCat(source.string(), ": id ", id, " is the added token \"", token,
                       "\" but an earlier entry gives it to \"", it->second, "\""));
    }
    if (auto it = by_token_.find(token); it != by_token_.end() && it->second != id) {
      return absl::InvalidArgumentError(
          absl::StrCat(source.string(), ": added token \"", token, "\" has id ", id,
                       " but an earlier entry gives it id ", it->second));
    }
    by_id_[id] = token;
    by_token_[token] = id;
    return absl::OkStatus();
  }
  std::map<int64_t, std::string> TakeById() { return std::move(by_id_); }

 private:
  std::map<int64_t, std::string> by_id_;
  std::map<std::string, int64_t> by_token_;
};

}  // namespace

absl::StatusOr<std::map<int64_t, std::string>> ReadAddedTokenFiles(
    const std::filesystem::path& dir) {
  AddedTokenMap added;
  const std::filesystem::path added_path = dir / kAddedTokensFile;
  EASEL_ASSIGN_OR_RETURN(nlohmann::json added_json, ReadJsonObject(added_path));
  for (const auto& [token, id] : added_json.items()) {
    if (!id.is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(added_path.string(), ": added token \"",
                                                     token, "\" has a non-integer id"));
    }
    EASEL_RETURN_IF_ERROR(added.Add(id.get<int64_t>(), token, added_path));
  }
  const std::filesystem::path config_path = dir / kConfigFile;
  EASEL_ASSIGN_OR_RETURN(nlohmann::json config, ReadJsonObject(config_path));
  if (auto decoder = config.find("added_tokens_decoder"); decoder != config.end()) {
    if (!decoder->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config_path.string(), ": added_tokens_decoder is not an object"));
    }
    for (const auto& [id_text, entry] : decoder->items()) {
      int64_t id = 0;
      const bool has_content = entry.is_object() && entry.contains("content") &&
                               entry["content"].is_string();
      if (!absl::SimpleAtoi(id_text, &id) || !has_content) {
        return absl::InvalidArgumentError(
            absl::StrCat(config_path.string(), ": added_tokens_decoder entry \"", id_text,
                         "\" is not an integer id with a \"content\" string"));
      }
      EASEL_RETURN_IF_ERROR(added.Add(id, entry["content"].get<std::string>(), config_path));
    }
  }
  return added.TakeById();
}

absl::Status WriteAddedTokenFiles(const std::filesystem::path& dir,
                                  const std::vector<std::string>& tokens, int64_t first_id) {
  nlohmann::json added_json = nlohmann::json::object();
  const std::filesystem::path config_path = dir / kConfigFile;
  EASEL_ASSIGN_OR_RETURN(nlohmann::json config, ReadJsonObject(config_path));
  nlohmann::json& decoder = config["added_tokens_decoder"];
  if (!decoder.is_object()) decoder = nlohmann::json::object();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t id = first_id + static_cast<int64_t>(i);
    added_json[tokens[i]] = id;
    decoder[std::to_string(id)] = {{"content", tokens[i]}, {"lstrip", false},
                                   {"normalized", true},   {"rstrip", false},
                                   {"single_word", false}, {"special", false}};
  }
  EASEL_RETURN_IF_ERROR(WriteJson(dir / kAddedTokensFile, added_json));
  return WriteJson(config_path, config);
}

}  // namespace easel::tokenizer
