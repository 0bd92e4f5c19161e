#include "trainer/lora/adapter_loading.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "trainer/lora/kohya_keys.h"
#include "trainer/lora/lora_layers.h"

namespace easel::lora {
namespace {

using models::LoraCompatibleLayer;

constexpr size_t kNamesInErrors = 5;

std::string ListSome(const std::vector<std::string>& names) {
  std::vector<std::string> shown(names.begin(),
                                 names.begin() + std::min(names.size(), kNamesInErrors));
  std::string out = absl::StrJoin(shown, ", ");
  if (names.size() > shown.size()) {
    absl::StrAppend(&out, " and ", names.size() - shown.size(), " more");
  }
  return out;
}

std::string ShapeString(at::IntArrayRef sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes.vec(), ","), "]");
}

// Where a file's tensor goes: a layer of a part, and which of its tensors it is.
struct LayerId {
  size_t part = 0;
  std::string path;
  auto operator<=>(const LayerId&) const = default;
};

// One layer's tensors in a file, by key; empty when the file lacks it.
struct LayerKeys {
  std::string down, up, alpha;
};

// Maps the keys of a file in one style onto the layers of the parts.
class KeyResolver {
 public:
  KeyResolver(LoraKeyStyle style, const std::vector<LoraPart>& parts)
      : style_(style), parts_(parts) {
    for (const LoraPart& part : parts) {
      layers_.push_back(LoraLayers(*part.module));
      kohya_prefixes_.push_back(KohyaLoadPrefixes(part));
      kohya_names_.push_back(MapKohyaNames(layers_.back(), kohya_prefixes_.back()));
    }
  }

  const LayerMap& layers(size_t part) const { return layers_[part]; }

  // The layer `key` belongs to, with `keys` filled in; nullopt when it names none.
  absl::StatusOr<std::optional<LayerId>> Resolve(const std::string& key,
                                                 std::map<LayerId, LayerKeys>& layers) const {
    if (style_ == LoraKeyStyle::kKohya) return ResolveKohya(key, layers);
    for (size_t i = 0; i < parts_.size(); ++i) {
      const std::string prefix = parts_[i].prefix + ".";
      const bool down = key.ends_with(kLoraA);
      if (!key.starts_with(prefix) || !(down || key.ends_with(kLoraB))) continue;
      const size_t suffix_size = std::string_view(down ? kLoraA : kLoraB).size();
      if (key.size() < prefix.size() + suffix_size) continue;
      std::string path = key.substr(prefix.size(), key.size() - prefix.size() - suffix_size);
      if (!layers_[i].contains(path)) continue;
      LayerId id{i, std::move(path)};
      (down ? layers[id].down : layers[id].up) = key;
      return id;
    }
    return std::nullopt;
  }

  // The key a layer's `tensor` has, or would have, in a file of this style; `found` holds the
  // keys the file has for that layer (their kohya name is the one to reuse).
  std::string KeyFor(const LayerId& id, const LayerKeys& found, KohyaTensor tensor) const {
    if (style_ == LoraKeyStyle::kDiffusers) {
      return absl::StrCat(parts_[id.part].prefix, ".", id.path,
                          tensor == KohyaTensor::kDown ? kLoraA : kLoraB);
    }
    std::string name;
    for (const std::string* key : {&found.down, &found.up, &found.alpha}) {
      if (auto split = SplitKohyaKey(*key); split && name.empty()) name = split->name;
    }
    const auto& prefixes = kohya_prefixes_[id.part];
    if (name.empty() && !prefixes.empty()) name = KohyaName(prefixes.front(), id.path);
    if (name.empty()) name = absl::StrCat(parts_[id.part].prefix, ".", id.path);
    return name + (tensor == KohyaTensor::kDown ? kKohyaDown : kKohyaUp);
  }

 private:
  absl::StatusOr<std::optional<LayerId>> ResolveKohya(const std::string& key,
                                                      std::map<LayerId, LayerKeys>& layers) const {
    std::optional<KohyaKey> split = SplitKohyaKey(key);
    if (!split) return std::nullopt;
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (kohya_names_[i].ambiguous.contains(split->name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor ", key, " fits more than one module of ", parts_[i].prefix,
                         " once '.' is read as '_'; load a diffusers-style file instead"));
      }
      auto found = kohya_names_[i].paths.find(split->name);
      if (found == kohya_names_[i].paths.end()) continue;
      LayerId id{i, found->second};
      LayerKeys& keys = layers[id];
      (split->tensor == KohyaTensor::kDown ? keys.down
       : split->tensor == KohyaTensor::kUp ? keys.up
                                           : keys.alpha) = key;
      return id;
    }
    return std::nullopt;
  }

  LoraKeyStyle style_;
  const std::vector<LoraPart>& parts_;
  std::vector<LayerMap> layers_;
  std::vector<std::vector<std::string>> kohya_prefixes_;
  std::vector<KohyaNames> kohya_names_;
};

// One layer's adapter as the file gives it, checked against the layer.
struct PlannedAdapter {
  std::shared_ptr<LoraCompatibleLayer> layer;
  torch::Tensor down, up;
  std::optional<double> alpha;
};

// The sizes without the trailing 1s after the first two (a 1x1 kernel's).
std::vector<int64_t> WithoutUnitKernel(at::IntArrayRef sizes) {
  std::vector<int64_t> out = sizes.vec();
  while (out.size() > 2 && out.back() == 1) out.pop_back();
  return out;
}

// `tensor` in the shape `expected` of the model's adapter. The adapter of a 1x1 convolution
// and that of a linear layer are the same numbers, so [r, in] fits [r, in, 1, 1] and back
// (converters differ on which they write for proj_in / proj_out); anything else that differs
// is InvalidArgument naming `key`.
absl::StatusOr<torch::Tensor> FitShape(const std::filesystem::path& path, const std::string& key,
                                       const torch::Tensor& tensor, at::IntArrayRef expected) {
  if (tensor.sizes() == expected) return tensor;
  if (tensor.dim() >= 2 && WithoutUnitKernel(tensor.sizes()) == WithoutUnitKernel(expected)) {
    return tensor.reshape(expected);
  }
  std::string hint = "was it trained with another rank or base model?";
  if (tensor.dim() != static_cast<int64_t>(expected.size())) {
    hint = "a convolution's adapter is 4-D, a linear layer's 2-D";
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path.string(), ": tensor ", key, " has shape ", ShapeString(tensor.sizes()),
                   " but the model's adapter is ", ShapeString(expected), " (", hint, ")"));
}

absl::StatusOr<PlannedAdapter> PlanAdapter(const std::filesystem::path& path,
                                           const TensorMap& tensors, const LayerKeys& keys,
                                           std::shared_ptr<LoraCompatibleLayer> layer) {
  PlannedAdapter plan{std::move(layer), tensors.at(keys.down), tensors.at(keys.up), std::nullopt};
  if (plan.down.dim() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        path.string(), ": tensor ", keys.down, " has shape ", ShapeString(plan.down.sizes()),
        ", not [rank, in_features] (linear) or [rank, in_channels, k, k] (convolution)"));
  }
  const int64_t rank = plan.down.size(0);
  const LoraCompatibleLayer& target = *plan.layer;
  const std::vector<int64_t> down_shape =
      target.has_lora() ? target.lora_A_weight().sizes().vec() : target.LoraAShape(rank);
  const std::vector<int64_t> up_shape =
      target.has_lora() ? target.lora_B_weight().sizes().vec() : target.LoraBShape(rank);
  EASEL_ASSIGN_OR_RETURN(plan.down, FitShape(path, keys.down, plan.down, down_shape));
  EASEL_ASSIGN_OR_RETURN(plan.up, FitShape(path, keys.up, plan.up, up_shape));
  if (!keys.alpha.empty()) {
    const torch::Tensor& alpha = tensors.at(keys.alpha);
    if (alpha.numel() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(path.string(), ": tensor ", keys.alpha,
                                                     " has shape ", ShapeString(alpha.sizes()),
                                                     ", not a single alpha value"));
    }
    plan.alpha = alpha.to(torch::kFloat64).item<double>();
  }
  return plan;
}

void ApplyAdapter(const PlannedAdapter& plan) {
  LoraCompatibleLayer& layer = *plan.layer;
  const int64_t rank = plan.down.size(0);
  if (!layer.has_lora()) layer.EnableLora(rank, plan.alpha.value_or(static_cast<double>(rank)));
  torch::Tensor down = layer.lora_A_weight();
  torch::Tensor up = layer.lora_B_weight();
  down.copy_(plan.down.to(down.scalar_type()));
  up.copy_(plan.up.to(up.scalar_type()));
  if (plan.alpha) layer.set_lora_scale(*plan.alpha / static_cast<double>(rank));
}

}  // namespace

LoraKeyStyle DetectStyle(const TensorMap& tensors) {
  return std::any_of(tensors.begin(), tensors.end(),
                     [](const auto& entry) { return IsKohyaWeightKey(entry.first); })
             ? LoraKeyStyle::kKohya
             : LoraKeyStyle::kDiffusers;
}

absl::Status LoadAdapters(const std::filesystem::path& path, const TensorMap& tensors,
                          LoraKeyStyle style, const std::vector<LoraPart>& parts,
                          const DiffusersAlphas& alphas) {
  KeyResolver resolver(style, parts);
  std::map<LayerId, LayerKeys> layers;
  std::vector<std::string> unexpected;
  for (const auto& [key, tensor] : tensors) {
    auto id = resolver.Resolve(key, layers);
    if (!id.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", id.status().message()));
    }
    if (!id->has_value()) unexpected.push_back(key);
  }
  std::vector<std::string> missing;
  for (size_t i = 0; i < parts.size(); ++i) {
    for (const auto& [module_path, layer] : resolver.layers(i)) {
      LayerId id{i, module_path};
      if (layer->has_lora() && !layers.contains(id)) {
        missing.push_back(resolver.KeyFor(id, {}, KohyaTensor::kDown));
        missing.push_back(resolver.KeyFor(id, {}, KohyaTensor::kUp));
      }
    }
  }
  std::vector<PlannedAdapter> plans;
  for (const auto& [id, keys] : layers) {
    if (keys.down.empty()) missing.push_back(resolver.KeyFor(id, keys, KohyaTensor::kDown));
    if (keys.up.empty()) missing.push_back(resolver.KeyFor(id, keys, KohyaTensor::kUp));
    if (keys.down.empty() || keys.up.empty()) continue;
    EASEL_ASSIGN_OR_RETURN(PlannedAdapter plan,
                           PlanAdapter(path, tensors, keys, resolver.layers(id.part).at(id.path)));
    if (style == LoraKeyStyle::kDiffusers) plan.alpha = alphas.For(parts[id.part].prefix, id.path);
    plans.push_back(std::move(plan));
  }
  if (!missing.empty()) {
    std::sort(missing.begin(), missing.end());
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": missing LoRA tensors ", ListSome(missing)));
  }
  if (!unexpected.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path.string(), ": tensors that name no LoRA layer of the model: ", ListSome(unexpected)));
  }
  torch::NoGradGuard no_grad;
  for (const PlannedAdapter& plan : plans) ApplyAdapter(plan);
  return absl::OkStatus();
}

}  // namespace easel::lora
