#ifndef EASEL_TRAINER_MODELS_LORA_COMPATIBLE_LAYER_H_
#define EASEL_TRAINER_MODELS_LORA_COMPATIBLE_LAYER_H_

#include <cstdint>
#include <vector>

#include <cmath>

#include <torch/nn/init.h>
#include <torch/nn/module.h>
#include <torch/types.h>

namespace easel::models {

// What the LoRA library sees of a layer that can carry an adapter (LoraCompatibleLinear,
// LoraCompatibleConv2d): children "lora_A" (down) and "lora_B" (up), named like peft's, whose
// output, times lora_scale(), is added to the layer's own. Not a module itself: the layers are
// torch modules that also implement this, found by dynamic_pointer_cast from named_modules().
class LoraCompatibleLayer {
 public:
  virtual ~LoraCompatibleLayer() = default;

  // lora_A: kaiming-uniform (a = sqrt(5)); lora_B: zeros; float32 on the layer's device, scale
  // alpha / rank. Calling again replaces the adapter.
  virtual void EnableLora(int64_t rank, double alpha) = 0;
  virtual bool has_lora() const = 0;
  virtual double lora_scale() const = 0;
  virtual void set_lora_scale(double scale) = 0;
  virtual int64_t lora_rank() const = 0;

  // The adapter's weights (the parameters themselves); undefined without an adapter.
  virtual torch::Tensor lora_A_weight() const = 0;
  virtual torch::Tensor lora_B_weight() const = 0;

  // The shapes lora_A's and lora_B's weights have for an adapter of `rank`: [rank, in] and
  // [out, rank] for a linear layer, [rank, in, k, k] and [out, rank, 1, 1] for a convolution.
  virtual std::vector<int64_t> LoraAShape(int64_t rank) const = 0;
  virtual std::vector<int64_t> LoraBShape(int64_t rank) const = 0;
};

// Installs a fresh adapter pair in `layer` as children "lora_A" / "lora_B" (replacing an earlier
// pair held in `slot_a` / `slot_b`): float32 on `device`, lora_A kaiming-uniform (a = sqrt(5)),
// lora_B zeros, so the adapter starts as a no-op.
template <typename Holder>
void InstallLoraPair(torch::nn::Module& layer, Holder lora_a, Holder lora_b,
                     torch::Device device, Holder& slot_a, Holder& slot_b) {
  torch::NoGradGuard no_grad;
  lora_a->to(device, torch::kFloat32);
  lora_b->to(device, torch::kFloat32);
  torch::nn::init::kaiming_uniform_(lora_a->weight, std::sqrt(5.0));
  torch::nn::init::zeros_(lora_b->weight);
  if (slot_a.is_empty()) {
    slot_a = layer.register_module("lora_A", lora_a);
    slot_b = layer.register_module("lora_B", lora_b);
  } else {
    slot_a = layer.replace_module("lora_A", lora_a);
    slot_b = layer.replace_module("lora_B", lora_b);
  }
}

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_LORA_COMPATIBLE_LAYER_H_
