#include "trainer/lora/lora_layers.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace easel::lora {
namespace {

bool Near(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max({1.0, std::abs(a), std::abs(b)});
}

template <typename T, typename Get>
T MostCommon(const std::vector<AdapterSummary>& adapters, Get get) {
  std::vector<std::pair<T, int>> counts;
  for (const AdapterSummary& adapter : adapters) {
    const T value = get(adapter);
    auto it = std::find_if(counts.begin(), counts.end(),
                           [&](const auto& entry) { return entry.first == value; });
    if (it == counts.end()) {
      counts.emplace_back(value, 1);
    } else {
      ++it->second;
    }
  }
  if (counts.empty()) return T{};
  return std::max_element(counts.begin(), counts.end(),
                          [](const auto& a, const auto& b) { return a.second < b.second; })
      ->first;
}

}  // namespace

LayerMap LoraLayers(torch::nn::Module& module) {
  LayerMap out;
  for (const auto& item : module.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (auto layer = std::dynamic_pointer_cast<models::LoraCompatibleLayer>(item.value())) {
      out.emplace(item.key(), std::move(layer));
    }
  }
  return out;
}

LinearMap Linears(torch::nn::Module& module) {
  LinearMap out;
  for (const auto& item : module.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (auto linear = std::dynamic_pointer_cast<models::LoraCompatibleLinearImpl>(item.value())) {
      out.emplace(item.key(), std::move(linear));
    }
  }
  return out;
}

std::vector<AdapterSummary> Adapters(torch::nn::Module& module, double stated_alpha) {
  std::vector<AdapterSummary> out;
  for (const auto& [path, layer] : LoraLayers(module)) {
    if (!layer->has_lora()) continue;
    const int64_t rank = layer->lora_rank();
    double alpha = layer->lora_scale() * static_cast<double>(rank);
    if (stated_alpha > 0 && Near(alpha, stated_alpha)) {
      alpha = stated_alpha;
    } else if (Near(alpha, std::round(alpha))) {
      alpha = std::round(alpha);
    }
    out.push_back({path, rank, alpha});
  }
  return out;
}

int64_t MostCommonRank(const std::vector<AdapterSummary>& adapters) {
  return MostCommon<int64_t>(adapters, [](const AdapterSummary& a) { return a.rank; });
}

double MostCommonAlpha(const std::vector<AdapterSummary>& adapters) {
  return MostCommon<double>(adapters, [](const AdapterSummary& a) { return a.alpha; });
}

}  // namespace easel::lora
