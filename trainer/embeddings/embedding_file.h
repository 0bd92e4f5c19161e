#ifndef EASEL_TRAINER_EMBEDDINGS_EMBEDDING_FILE_H_
#define EASEL_TRAINER_EMBEDDINGS_EMBEDDING_FILE_H_

#include <filesystem>
#include <string>
#include <string_view>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace easel::embeddings {

// One learned textual-inversion token: its vectors for each text encoder, [n_vectors, dim].
// A token with n vectors is the n tokens TOK, TOK_1, ..., TOK_{n-1} in a tokenizer (diffusers).
struct TextualInversionEmbedding {
  std::string token;
  // text_encoder: SD 1.x/2.x's only encoder, SDXL's CLIP ViT-L ("clip_l").
  torch::Tensor vectors;
  // SDXL's text_encoder_2, OpenCLIP ViT-bigG ("clip_g"); undefined for SD 1.x/2.x.
  torch::Tensor vectors_2;

  int64_t num_vectors() const { return vectors.defined() ? vectors.size(0) : 0; }
  bool is_sdxl() const { return vectors_2.defined(); }
};

// Reads a safetensors embedding in the layouts other tools write, as float32 on CPU:
//   {TOKEN: [n, dim] or [dim]}          diffusers' learned_embeds.safetensors (the key is the token)
//   {"emb_params": [n, dim]}            kohya sd-scripts, A1111
//   {"string_to_param.*": [n, dim]}     A1111's string_to_param {'*': tensor}, flattened
//   {"clip_l": [n, 768], "clip_g": [n, 1280]}   SDXL (A1111, ComfyUI, kohya, diffusers' scripts)
// The token is `token` when given, else the diffusers key, else the file's stem (A1111 and
// ComfyUI name an embedding after its file). Errors name the file (and the tensor).
absl::StatusOr<TextualInversionEmbedding> ReadEmbeddingFile(const std::filesystem::path& path,
                                                            std::string_view token = "");

// Writes {token: vectors} (SD 1.x/2.x, diffusers' layout, which A1111 and ComfyUI also read)
// or, when vectors_2 is defined, {"clip_l": vectors, "clip_g": vectors_2} (SDXL; the token is
// then the file name's business, as in A1111), with metadata {"format": "pt"}, in the
// tensors' dtype.
absl::Status WriteEmbeddingFile(const std::filesystem::path& path,
                                const TextualInversionEmbedding& embedding);

}  // namespace easel::embeddings

#endif  // EASEL_TRAINER_EMBEDDINGS_EMBEDDING_FILE_H_
