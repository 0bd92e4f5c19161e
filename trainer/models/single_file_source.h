#ifndef EASEL_TRAINER_MODELS_SINGLE_FILE_SOURCE_H_
#define EASEL_TRAINER_MODELS_SINGLE_FILE_SOURCE_H_

// Internal to the single-file converter (single_file*.cc): the checkpoint's tensors under their
// original names, and the per-component converters that pull from them.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "trainer/models/autoencoder_kl.h"
#include "trainer/models/clip_text_model.h"
#include "trainer/models/unet_2d_condition.h"

namespace easel::models::single_file_internal {

// The tensors of a single-file checkpoint, looked up by their original names. Remembers which
// ones were taken, so that the rest can be reported as unused.
class CheckpointTensors {
 public:
  explicit CheckpointTensors(std::map<std::string, torch::Tensor> tensors)
      : tensors_(std::move(tensors)) {}

  bool Has(const std::string& key) const { return tensors_.count(key) > 0; }
  bool HasPrefix(const std::string& prefix) const;
  // How many consecutive indices i = 0, 1, ... have some key starting with prefix + i + ".".
  int64_t CountIndexed(const std::string& prefix) const;
  // A tensor without taking it (to read its shape); missing -> InvalidArgument naming the key
  // and `purpose`.
  absl::StatusOr<torch::Tensor> Peek(const std::string& key, std::string_view purpose) const;
  // Takes a tensor (marks it used); missing -> InvalidArgument naming the key and `purpose`.
  absl::StatusOr<torch::Tensor> Take(const std::string& key, std::string_view purpose);
  // Keys never taken, sorted.
  std::vector<std::string> UnusedKeys() const;

 private:
  std::map<std::string, torch::Tensor> tensors_;
  std::set<std::string> taken_;
};

// One component's tensors in our (diffusers / transformers) names, pulled from the checkpoint.
class ComponentTensors {
 public:
  ComponentTensors(CheckpointTensors& source, std::string component)
      : source_(source), component_(std::move(component)) {}

  // ours[to] = source[from].
  absl::Status Copy(const std::string& from, const std::string& to);
  // from + "weight" / "bias" -> to + "weight" / "bias" (prefixes end with ".").
  absl::Status CopyWeightAndBias(const std::string& from, const std::string& to);
  // Takes source[from] for ours[to] and hands it back for a reshape or split.
  absl::StatusOr<torch::Tensor> Take(const std::string& from, const std::string& to);
  void Put(const std::string& to, torch::Tensor tensor) { tensors_[to] = std::move(tensor); }
  // For shape inference: "to infer the <component> config".
  absl::StatusOr<torch::Tensor> Peek(const std::string& key) const;

  CheckpointTensors& source() { return source_; }
  const std::string& component() const { return component_; }
  std::map<std::string, torch::Tensor> Release() { return std::move(tensors_); }

 private:
  CheckpointTensors& source_;
  std::string component_;
  std::map<std::string, torch::Tensor> tensors_;
};

template <typename Config>
struct Converted {
  Config config;
  std::map<std::string, torch::Tensor> tensors;
};

// Re-reads a config through its FromJson, which validates it; errors name `what`.
template <typename Config>
absl::Status ValidateInferred(const Config& config, std::string_view what) {
  absl::StatusOr<Config> parsed = Config::FromJson(config.ToJson());
  if (parsed.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("single-file checkpoint: the ", std::string(what),
                                                 " config inferred from the tensor shapes is not "
                                                 "usable: ",
                                                 std::string(parsed.status().message())));
}

// Architecture rules the UNet converter needs.
struct UNetRules {
  // SD 1.x: 8 heads in every block; SD 2.x and SDXL: heads = channels / 64.
  bool eight_heads = true;
  // SDXL: label_emb is the text_time addition embedding; its input is the pooled text embedding
  // (this many values) plus 6 sinusoidal time-id embeddings.
  bool text_time_embedding = false;
  int64_t pooled_text_dim = 0;
};

// model.diffusion_model.* -> UNet2DConditionModel (sample_size left at its default).
absl::StatusOr<Converted<UNet2DConditionConfig>> ConvertUNet(CheckpointTensors& source,
                                                             const UNetRules& rules);

// first_stage_model.* -> AutoencoderKL.
absl::StatusOr<Converted<AutoencoderKLConfig>> ConvertVae(CheckpointTensors& source,
                                                          double scaling_factor,
                                                          int64_t sample_size);

// OpenAI CLIP text model stored in transformers names under `prefix` (which ends with
// "transformer."); the "text_model." level may be missing in old files.
absl::StatusOr<Converted<CLIPTextConfig>> ConvertClipTextEncoder(CheckpointTensors& source,
                                                                 const std::string& prefix);

// OpenCLIP text tower under `prefix` (which ends with "model."). `penultimate` (SD 2.x): the
// model conditions on the penultimate layer's output, so the last residual block is left out
// (and unused). `with_projection` (SDXL): text_projection becomes text_projection.weight.
absl::StatusOr<Converted<CLIPTextConfig>> ConvertOpenClipTextEncoder(CheckpointTensors& source,
                                                                     const std::string& prefix,
                                                                     bool penultimate,
                                                                     bool with_projection);

}  // namespace easel::models::single_file_internal

#endif  // EASEL_TRAINER_MODELS_SINGLE_FILE_SOURCE_H_
