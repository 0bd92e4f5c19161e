#ifndef EASEL_TRAINER_MODELS_LORA_COMPATIBLE_LAYER_H_
#define EASEL_TRAINER_MODELS_LORA_COMPATIBLE_LAYER_H_

#include <cstdint>
#include <vector>

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

}  // namespace easel::models

#endif  // EASEL_TRAINER_MODELS_LORA_COMPATIBLE_LAYER_H_
