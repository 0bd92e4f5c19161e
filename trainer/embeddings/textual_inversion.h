#ifndef EASEL_TRAINER_EMBEDDINGS_TEXTUAL_INVERSION_H_
#define EASEL_TRAINER_EMBEDDINGS_TEXTUAL_INVERSION_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/embeddings/embedding_file.h"
#include "trainer/models/clip_text_model.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/tokenizer/clip_tokenizer.h"

namespace easel::embeddings {

// diffusers' names for a token with n vectors: TOK, TOK_1, ..., TOK_{n-1}.
std::vector<std::string> MultiVectorTokenNames(std::string_view token, int64_t num_vectors);

// Adds `token` with `vectors` [n, dim] to one tokenizer + text encoder: adds the tokens
// MultiVectorTokenNames(token, n), grows the token table to the tokenizer's size and copies the
// vectors into the new rows. Returns their ids (what the prompt's `token` encodes to). All or
// nothing; InvalidArgument naming the token when dim is not the encoder's hidden size, when a
// name is taken, or when the new token would merge with an existing multi-vector token.
absl::StatusOr<std::vector<int64_t>> AddTokenVectors(tokenizer::CLIPTokenizer& tokenizer,
                                                     models::CLIPTextModel& text_encoder,
                                                     std::string_view token,
                                                     const torch::Tensor& vectors);

// The start of textual-inversion training (diffusers' textual_inversion.py): adds `token` with
// `num_vectors` vectors, each a copy of `initializer_token`'s row (which must encode to exactly
// one token), or of the mean row when initializer_token is empty. Returns the new ids.
absl::StatusOr<std::vector<int64_t>> AddPlaceholderToken(tokenizer::CLIPTokenizer& tokenizer,
                                                         models::CLIPTextModel& text_encoder,
                                                         std::string_view token,
                                                         int64_t num_vectors,
                                                         std::string_view initializer_token);

// The ids of an added token in each of a model's text encoders (text_encoder_2: SDXL only).
struct TokenIds {
  std::vector<int64_t> text_encoder;
  std::vector<int64_t> text_encoder_2;
};

// AddPlaceholderToken on every text encoder of a model (both for SDXL), all or nothing.
absl::StatusOr<TokenIds> AddPlaceholderToken(models::DiffusersModel& model,
                                             std::string_view token, int64_t num_vectors,
                                             std::string_view initializer_token);

// Adds an embedding to a model's tokenizer(s) and text encoder(s), all or nothing: an SDXL
// model takes vectors for text_encoder and vectors_2 for text_encoder_2; an SD 1.x/2.x model
// takes vectors alone.
absl::StatusOr<TokenIds> AddEmbedding(models::DiffusersModel& model,
                                      const TextualInversionEmbedding& embedding);

// The current vectors of an added token (all its TOK, TOK_1, ... rows), as float32 on CPU.
absl::StatusOr<TextualInversionEmbedding> ExtractEmbedding(const models::DiffusersModel& model,
                                                           std::string_view token);

// ReadEmbeddingFile + AddEmbedding; errors are prefixed with the file. `token` overrides the
// file's token name.
absl::StatusOr<TokenIds> LoadTextualInversion(const std::filesystem::path& path,
                                              models::DiffusersModel& model,
                                              std::string_view token = "");

// ExtractEmbedding + WriteEmbeddingFile.
absl::Status SaveTextualInversion(const std::filesystem::path& path,
                                  const models::DiffusersModel& model, std::string_view token);

}  // namespace easel::embeddings

#endif  // EASEL_TRAINER_EMBEDDINGS_TEXTUAL_INVERSION_H_
