#ifndef EASEL_TRAINER_LORA_KOHYA_KEYS_H_
#define EASEL_TRAINER_LORA_KOHYA_KEYS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/lora/lora.h"
#include "trainer/lora/lora_layers.h"

namespace easel::lora {

inline constexpr char kKohyaDown[] = ".lora_down.weight";  // = lora_A
inline constexpr char kKohyaUp[] = ".lora_up.weight";      // = lora_B
inline constexpr char kKohyaAlpha[] = ".alpha";            // 0-dim float32

enum class KohyaTensor { kDown, kUp, kAlpha };

// "lora_unet_" + "down_blocks.0.attentions.0.proj_in" ->
// "lora_unet_down_blocks_0_attentions_0_proj_in".
std::string KohyaName(std::string_view kohya_prefix, std::string_view module_path);

// The prefix `part` is saved under: part.kohya_prefix, else unet -> lora_unet_, text_encoder ->
// lora_te1_ (sdxl) or lora_te_, text_encoder_2 -> lora_te2_. Other parts are InvalidArgument.
absl::StatusOr<std::string> KohyaSavePrefix(const LoraPart& part, bool sdxl);

// The prefixes a file may use for `part` (text_encoder: lora_te_ and lora_te1_).
std::vector<std::string> KohyaLoadPrefixes(const LoraPart& part);

// Kohya name -> module path of every layer under each prefix. Names that two module paths
// share (module names may hold '_') cannot be told apart and are in `ambiguous`.
struct KohyaNames {
  std::map<std::string, std::string> paths;
  std::set<std::string> ambiguous;
};
KohyaNames MapKohyaNames(const LayerMap& layers, const std::vector<std::string>& prefixes);

// "<name>.lora_down.weight" -> {name, kDown}, likewise .lora_up.weight and .alpha.
struct KohyaKey {
  std::string name;
  KohyaTensor tensor;
};
std::optional<KohyaKey> SplitKohyaKey(std::string_view key);

bool IsKohyaWeightKey(std::string_view key);  // ends with .lora_down.weight or .lora_up.weight

}  // namespace easel::lora

#endif  // EASEL_TRAINER_LORA_KOHYA_KEYS_H_
