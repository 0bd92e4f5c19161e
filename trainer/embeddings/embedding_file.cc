#include "trainer/embeddings/embedding_file.h"

#include <map>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "trainer/models/weights.h"

namespace easel::embeddings {
namespace {

constexpr char kClipL[] = "clip_l";
constexpr char kClipG[] = "clip_g";
constexpr char kEmbParams[] = "emb_params";
constexpr std::string_view kStringToParam = "string_to_param.";

std::string ShapeString(const torch::Tensor& tensor) {
  return absl::StrCat("[", absl::StrJoin(tensor.sizes().vec(), ", "), "]");
}

// [dim] -> [1, dim]; [n, dim] kept; as float32. Anything else is an error naming the tensor.
absl::StatusOr<torch::Tensor> AsVectors(const std::filesystem::path& path,
                                        const std::string& name, const torch::Tensor& tensor) {
  torch::Tensor vectors = tensor.dim() == 1 ? tensor.unsqueeze(0) : tensor;
  if (vectors.dim() != 2 || vectors.size(0) == 0 || vectors.size(1) == 0 ||
      !vectors.is_floating_point()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "embedding file ", path.string(), ": tensor \"", name, "\" has shape ",
        ShapeString(tensor), " and dtype ", std::string(c10::toString(tensor.scalar_type())),
        "; expected floating-point vectors [n_vectors, dim] or [dim]"));
  }
  return vectors.to(torch::kFloat32).contiguous();
}

// The one tensor whose name starts with `prefix`, if any; more than one is an error.
absl::StatusOr<std::optional<std::string>> OnlyKeyWithPrefix(
    const std::filesystem::path& path, const std::map<std::string, torch::Tensor>& tensors,
    std::string_view prefix) {
  std::optional<std::string> found;
  for (const auto& [name, tensor] : tensors) {
    if (name.rfind(prefix, 0) != 0) continue;
    if (found) {
      return absl::InvalidArgumentError(
          absl::StrCat("embedding file ", path.string(), " holds several terms (\"", *found,
                       "\", \"", name, "\"); an embedding file holds one"));
    }
    found = name;
  }
  return found;
}

absl::StatusOr<TextualInversionEmbedding> ParseLayout(
    const std::filesystem::path& path, const std::map<std::string, torch::Tensor>& tensors) {
  TextualInversionEmbedding embedding;
  if (tensors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedding file ", path.string(), " holds no tensors"));
  }
  const bool has_l = tensors.count(kClipL) > 0, has_g = tensors.count(kClipG) > 0;
  if (has_l != has_g) {
    return absl::InvalidArgumentError(absl::StrCat(
        "embedding file ", path.string(), " has \"", has_l ? kClipL : kClipG, "\" without \"",
        has_l ? kClipG : kClipL, "\"; an SDXL embedding holds both"));
  }
  if (has_l) {
    EASEL_ASSIGN_OR_RETURN(embedding.vectors, AsVectors(path, kClipL, tensors.at(kClipL)));
    EASEL_ASSIGN_OR_RETURN(embedding.vectors_2, AsVectors(path, kClipG, tensors.at(kClipG)));
    if (embedding.vectors.size(0) != embedding.vectors_2.size(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "embedding file ", path.string(), ": \"clip_l\" has ", embedding.vectors.size(0),
          " vectors but \"clip_g\" has ", embedding.vectors_2.size(0)));
    }
    return embedding;
  }
  if (auto it = tensors.find(kEmbParams); it != tensors.end()) {
    EASEL_ASSIGN_OR_RETURN(embedding.vectors, AsVectors(path, it->first, it->second));
    return embedding;
  }
  EASEL_ASSIGN_OR_RETURN(std::optional<std::string> a1111_key,
                         OnlyKeyWithPrefix(path, tensors, kStringToParam));
  if (a1111_key) {
    EASEL_ASSIGN_OR_RETURN(embedding.vectors, AsVectors(path, *a1111_key, tensors.at(*a1111_key)));
    return embedding;
  }
  if (tensors.size() == 1) {  // diffusers: {token: vectors}
    const auto& [name, tensor] = *tensors.begin();
    EASEL_ASSIGN_OR_RETURN(embedding.vectors, AsVectors(path, name, tensor));
    embedding.token = name;
    return embedding;
  }
  std::vector<std::string> names;
  for (const auto& [name, tensor] : tensors) names.push_back(absl::StrCat("\"", name, "\""));
  return absl::InvalidArgumentError(absl::StrCat(
      "embedding file ", path.string(), " holds the tensors ", absl::StrJoin(names, ", "),
      "; expected one {token: vectors}, \"emb_params\", \"string_to_param.*\", or \"clip_l\" "
      "and \"clip_g\""));
}

absl::Status CheckVectors(const std::filesystem::path& path, const char* what,
                          const torch::Tensor& vectors) {
  if (!vectors.defined() || vectors.dim() != 2 || vectors.size(0) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "writing embedding ", path.string(), ": ", what, " must be [n_vectors, dim], got ",
        vectors.defined() ? ShapeString(vectors) : "none"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TextualInversionEmbedding> ReadEmbeddingFile(const std::filesystem::path& path,
                                                            std::string_view token) {
  try {
    EASEL_ASSIGN_OR_RETURN(auto tensors, models::LoadSafetensors(path));
    EASEL_ASSIGN_OR_RETURN(TextualInversionEmbedding embedding, ParseLayout(path, tensors));
    if (!token.empty()) {
      embedding.token = std::string(token);
    } else if (embedding.token.empty()) {
      embedding.token = path.stem().string();
    }
    if (embedding.token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("embedding file ", path.string(), ": no token name; pass one"));
    }
    return embedding;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading embedding file ", path.string(), ": ", e.what()));
  }
}

absl::Status WriteEmbeddingFile(const std::filesystem::path& path,
                                const TextualInversionEmbedding& embedding) {
  try {
    EASEL_RETURN_IF_ERROR(CheckVectors(path, "vectors", embedding.vectors));
    std::map<std::string, torch::Tensor> tensors;
    if (embedding.is_sdxl()) {
      EASEL_RETURN_IF_ERROR(CheckVectors(path, "vectors_2", embedding.vectors_2));
      if (embedding.vectors.size(0) != embedding.vectors_2.size(0)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "writing embedding ", path.string(), ": token \"", embedding.token, "\" has ",
            embedding.vectors.size(0), " vectors for text_encoder but ",
            embedding.vectors_2.size(0), " for text_encoder_2"));
      }
      tensors.emplace(kClipL, embedding.vectors.detach());
      tensors.emplace(kClipG, embedding.vectors_2.detach());
    } else {
      if (embedding.token.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("writing embedding ", path.string(), ": the token name is empty"));
      }
      tensors.emplace(embedding.token, embedding.vectors.detach());
    }
    return models::SaveSafetensors(path, tensors, {{"format", "pt"}});
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("writing embedding ", path.string(), ": ", e.what()));
  }
}

}  // namespace easel::embeddings
