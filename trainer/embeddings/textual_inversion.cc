#include "trainer/embeddings/textual_inversion.h"

#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace easel::embeddings {
namespace {

// One token's vectors bound for one tokenizer + text encoder.
struct Addition {
  tokenizer::CLIPTokenizer* tokenizer;
  models::CLIPTextModel text_encoder;
  std::string encoder_name;  // "text_encoder" | "text_encoder_2", for messages
  torch::Tensor vectors;     // [n, dim]
};

absl::Status CheckAddition(const Addition& addition, const std::string& token) {
  const torch::Tensor& vectors = addition.vectors;
  if (!vectors.defined() || vectors.dim() != 2 || vectors.size(0) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token \"", token, "\": vectors for ", addition.encoder_name,
        " must be [n_vectors, dim]"));
  }
  const int64_t width = addition.text_encoder->token_embedding()->weight.size(1);
  if (vectors.size(1) != width) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token \"", token, "\" has vectors of size ", vectors.size(1), " but ",
        addition.encoder_name, "'s token embeddings have size ", width));
  }
  const tokenizer::CLIPTokenizer& tokenizer = *addition.tokenizer;
  const std::vector<std::string> names = MultiVectorTokenNames(token, vectors.size(0));
  absl::Status fresh = tokenizer.CheckNewTokens(names);
  if (!fresh.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer of ", addition.encoder_name, ": ", fresh.message()));
  }
  // TOK_n already there would make the prompt's TOK expand into it (diffusers checks TOK_1).
  const std::string next = absl::StrCat(token, "_", vectors.size(0));
  if (!tokenizer.AddedTokenIds(next).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer of ", addition.encoder_name, ": cannot add the token \"", token,
        "\": the token \"", next, "\" exists, so \"", token, "\" would expand into it"));
  }
  // P_k joins an added token P's vectors.
  const size_t underscore = token.rfind('_');
  if (underscore != std::string::npos && underscore + 1 < token.size() &&
      token.find_first_not_of("0123456789", underscore + 1) == std::string::npos &&
      !tokenizer.AddedTokenIds(token.substr(0, underscore)).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer of ", addition.encoder_name, ": cannot add the token \"", token,
        "\": it would become a vector of the multi-vector token \"", token.substr(0, underscore),
        "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> ApplyAddition(const Addition& addition,
                                                   const std::string& token) {
  tokenizer::CLIPTokenizer& tokenizer = *addition.tokenizer;
  const std::vector<std::string> names = MultiVectorTokenNames(token, addition.vectors.size(0));
  EASEL_RETURN_IF_ERROR(tokenizer.AddTokens(names));
  std::vector<int64_t> ids;
  for (const std::string& name : names) ids.push_back(tokenizer.TokenId(name));
  models::CLIPTextModel text_encoder = addition.text_encoder;
  if (text_encoder->token_embedding()->weight.size(0) < tokenizer.vocab_size()) {
    EASEL_RETURN_IF_ERROR(text_encoder->ResizeTokenEmbeddings(tokenizer.vocab_size()));
  }
  torch::NoGradGuard no_grad;
  torch::Tensor weight = text_encoder->token_embedding()->weight;
  const torch::Tensor index = torch::tensor(ids, torch::kLong).to(weight.device());
  weight.index_copy_(0, index, addition.vectors.to(weight.options().requires_grad(false)));
  return ids;
}

// Checks every addition, then applies them: all or nothing.
absl::StatusOr<std::vector<std::vector<int64_t>>> AddAll(const std::vector<Addition>& additions,
                                                         const std::string& token) {
  if (token.empty()) return absl::InvalidArgumentError("the token name is empty");
  for (size_t i = 0; i < additions.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (additions[i].tokenizer == additions[j].tokenizer) {
        return absl::InvalidArgumentError(absl::StrCat(
            additions[j].encoder_name, " and ", additions[i].encoder_name,
            " share one tokenizer object; each text encoder needs its own"));
      }
    }
    EASEL_RETURN_IF_ERROR(CheckAddition(additions[i], token));
  }
  std::vector<std::vector<int64_t>> ids;
  for (const Addition& addition : additions) {
    EASEL_ASSIGN_OR_RETURN(std::vector<int64_t> added, ApplyAddition(addition, token));
    ids.push_back(std::move(added));
  }
  return ids;
}

// The row new placeholder vectors start from: the initializer token's, or the mean row.
absl::StatusOr<torch::Tensor> InitialRow(const tokenizer::CLIPTokenizer& tokenizer,
                                         const models::CLIPTextModel& text_encoder,
                                         std::string_view initializer_token,
                                         const std::string& encoder_name) {
  const torch::Tensor weight = text_encoder->token_embedding()->weight.detach();
  if (initializer_token.empty()) return weight.to(torch::kFloat32).mean(0);
  const std::vector<int64_t> ids = tokenizer.EncodeWithoutSpecialTokens(initializer_token);
  if (ids.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "initializer token \"", std::string(initializer_token), "\" is ", ids.size(),
        " tokens (ids ", absl::StrJoin(ids, ", "), ") for the tokenizer of ", encoder_name,
        "; it must be exactly one"));
  }
  if (ids[0] >= weight.size(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("initializer token \"", std::string(initializer_token), "\" has id ", ids[0],
                     ", past ", encoder_name, "'s ", weight.size(0), " token embeddings"));
  }
  return weight[ids[0]].to(torch::kFloat32);
}

absl::Status CheckModel(const models::DiffusersModel& model) {
  if (model.tokenizer == nullptr || model.text_encoder.is_empty()) {
    return absl::FailedPreconditionError("the model has no tokenizer or text_encoder loaded");
  }
  if (!model.text_encoder_2.is_empty() && model.tokenizer_2 == nullptr) {
    return absl::FailedPreconditionError("the model has text_encoder_2 but no tokenizer_2");
  }
  return absl::OkStatus();
}

bool IsSdxl(const models::DiffusersModel& model) { return !model.text_encoder_2.is_empty(); }

// A tokenizer + text encoder to add a placeholder token to.
struct Target {
  tokenizer::CLIPTokenizer* tokenizer;
  models::CLIPTextModel text_encoder;
  std::string encoder_name;
};

absl::StatusOr<std::vector<std::vector<int64_t>>> AddPlaceholder(
    const std::vector<Target>& targets, std::string_view token, int64_t num_vectors,
    std::string_view initializer_token) {
  if (num_vectors < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token \"", std::string(token), "\": num_vectors must be at least 1, got ", num_vectors));
  }
  std::vector<Addition> additions;
  for (const Target& target : targets) {
    EASEL_ASSIGN_OR_RETURN(torch::Tensor row, InitialRow(*target.tokenizer, target.text_encoder,
                                                         initializer_token, target.encoder_name));
    additions.push_back(Addition{target.tokenizer, target.text_encoder, target.encoder_name,
                                 row.unsqueeze(0).repeat({num_vectors, 1})});
  }
  return AddAll(additions, std::string(token));
}

TokenIds ToTokenIds(std::vector<std::vector<int64_t>> ids) {
  TokenIds result;
  result.text_encoder = std::move(ids.at(0));
  if (ids.size() > 1) result.text_encoder_2 = std::move(ids[1]);
  return result;
}

absl::StatusOr<torch::Tensor> CurrentVectors(const tokenizer::CLIPTokenizer& tokenizer,
                                             const models::CLIPTextModel& text_encoder,
                                             std::string_view token,
                                             const std::string& encoder_name) {
  const std::vector<int64_t> ids = tokenizer.AddedTokenIds(token);
  if (ids.empty()) {
    return absl::NotFoundError(absl::StrCat("token \"", std::string(token),
                                            "\" is not an added token of the tokenizer of ",
                                            encoder_name));
  }
  const torch::Tensor weight = text_encoder->token_embedding()->weight.detach();
  for (int64_t id : ids) {
    if (id >= weight.size(0)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "token \"", std::string(token), "\" has id ", id, " but ", encoder_name, " has only ",
          weight.size(0), " token embeddings"));
    }
  }
  const torch::Tensor index = torch::tensor(ids, torch::kLong).to(weight.device());
  return weight.index_select(0, index).to(torch::kCPU, torch::kFloat32).clone();
}

}  // namespace

std::vector<std::string> MultiVectorTokenNames(std::string_view token, int64_t num_vectors) {
  std::vector<std::string> names = {std::string(token)};
  for (int64_t i = 1; i < num_vectors; ++i) names.push_back(absl::StrCat(names[0], "_", i));
  return names;
}

absl::StatusOr<std::vector<int64_t>> AddTokenVectors(tokenizer::CLIPTokenizer& tokenizer,
                                                     models::CLIPTextModel& text_encoder,
                                                     std::string_view token,
                                                     const torch::Tensor& vectors) {
  try {
    EASEL_ASSIGN_OR_RETURN(
        auto ids, AddAll({Addition{&tokenizer, text_encoder, "text_encoder", vectors}},
                         std::string(token)));
    return std::move(ids.at(0));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("adding token \"", std::string(token), "\": ", e.what()));
  }
}

absl::StatusOr<std::vector<int64_t>> AddPlaceholderToken(tokenizer::CLIPTokenizer& tokenizer,
                                                         models::CLIPTextModel& text_encoder,
                                                         std::string_view token,
                                                         int64_t num_vectors,
                                                         std::string_view initializer_token) {
  try {
    EASEL_ASSIGN_OR_RETURN(auto ids, AddPlaceholder({Target{&tokenizer, text_encoder, "text_encoder"}},
                                                    token, num_vectors, initializer_token));
    return std::move(ids.at(0));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("adding placeholder token \"", std::string(token), "\": ", e.what()));
  }
}

absl::StatusOr<TokenIds> AddPlaceholderToken(models::DiffusersModel& model,
                                             std::string_view token, int64_t num_vectors,
                                             std::string_view initializer_token) {
  try {
    EASEL_RETURN_IF_ERROR(CheckModel(model));
    std::vector<Target> targets = {Target{model.tokenizer.get(), model.text_encoder, "text_encoder"}};
    if (IsSdxl(model)) {
      targets.push_back(Target{model.tokenizer_2.get(), model.text_encoder_2, "text_encoder_2"});
    }
    EASEL_ASSIGN_OR_RETURN(auto ids,
                           AddPlaceholder(targets, token, num_vectors, initializer_token));
    return ToTokenIds(std::move(ids));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("adding placeholder token \"", std::string(token), "\": ", e.what()));
  }
}

absl::StatusOr<TokenIds> AddEmbedding(models::DiffusersModel& model,
                                      const TextualInversionEmbedding& embedding) {
  try {
    EASEL_RETURN_IF_ERROR(CheckModel(model));
    if (IsSdxl(model) && !embedding.is_sdxl()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token \"", embedding.token,
          "\" has vectors for one text encoder; an SDXL model needs clip_l and clip_g vectors"));
    }
    if (!IsSdxl(model) && embedding.is_sdxl()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token \"", embedding.token,
          "\" is an SDXL embedding (clip_l + clip_g); this model has one text encoder"));
    }
    std::vector<Addition> additions = {
        Addition{model.tokenizer.get(), model.text_encoder, "text_encoder", embedding.vectors}};
    if (IsSdxl(model)) {
      additions.push_back(Addition{model.tokenizer_2.get(), model.text_encoder_2,
                                   "text_encoder_2", embedding.vectors_2});
    }
    EASEL_ASSIGN_OR_RETURN(auto ids, AddAll(additions, embedding.token));
    return ToTokenIds(std::move(ids));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("adding embedding \"", embedding.token, "\": ", e.what()));
  }
}

absl::StatusOr<TextualInversionEmbedding> ExtractEmbedding(const models::DiffusersModel& model,
                                                           std::string_view token) {
  try {
    EASEL_RETURN_IF_ERROR(CheckModel(model));
    TextualInversionEmbedding embedding;
    embedding.token = std::string(token);
    EASEL_ASSIGN_OR_RETURN(embedding.vectors, CurrentVectors(*model.tokenizer, model.text_encoder,
                                                             token, "text_encoder"));
    if (IsSdxl(model)) {
      EASEL_ASSIGN_OR_RETURN(embedding.vectors_2,
                             CurrentVectors(*model.tokenizer_2, model.text_encoder_2, token,
                                            "text_encoder_2"));
      if (embedding.vectors.size(0) != embedding.vectors_2.size(0)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "token \"", embedding.token, "\" has ", embedding.vectors.size(0),
            " vectors in text_encoder but ", embedding.vectors_2.size(0), " in text_encoder_2"));
      }
    }
    return embedding;
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("reading the vectors of token \"", std::string(token), "\": ", e.what()));
  }
}

absl::StatusOr<TokenIds> LoadTextualInversion(const std::filesystem::path& path,
                                              models::DiffusersModel& model,
                                              std::string_view token) {
  EASEL_ASSIGN_OR_RETURN(TextualInversionEmbedding embedding, ReadEmbeddingFile(path, token));
  absl::StatusOr<TokenIds> ids = AddEmbedding(model, embedding);
  if (!ids.ok()) {
    return absl::Status(ids.status().code(), absl::StrCat("embedding file ", path.string(), ": ",
                                                          ids.status().message()));
  }
  return ids;
}

absl::Status SaveTextualInversion(const std::filesystem::path& path,
                                  const models::DiffusersModel& model, std::string_view token) {
  EASEL_ASSIGN_OR_RETURN(TextualInversionEmbedding embedding, ExtractEmbedding(model, token));
  return WriteEmbeddingFile(path, embedding);
}

}  // namespace easel::embeddings
