// Replays testdata/diffusers_schedulers.json, written by make_scheduler_golden.py from diffusers'
// DDIMScheduler and EulerDiscreteScheduler: same timesteps, sigmas, scaled inputs and steps.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nlohmann/json.hpp"
#include "trainer/sampling/euler_sampler.h"
#include "trainer/sampling/sampler.h"

namespace easel::sampling {
namespace {

nlohmann::json LoadGolden() {
  const char* source = std::getenv("EASEL_SOURCE_DIR");
  const std::filesystem::path path = std::filesystem::path(source != nullptr ? source : ".") /
                                     "tests/trainer/sampling/testdata/diffusers_schedulers.json";
  std::ifstream file(path);
  EXPECT_TRUE(file) << "missing " << path << " (set EASEL_SOURCE_DIR to the checkout)";
  return file ? nlohmann::json::parse(file) : nlohmann::json::object();
}

torch::Tensor Floats(const nlohmann::json& values) {
  std::vector<float> floats;
  for (const auto& v : values) floats.push_back(static_cast<float>(v.get<double>()));
  return torch::tensor(floats, torch::kFloat32).view({1, -1, 1, 1});
}

// Relative to max(1, |expected|); the recorded values are float32, ours too. They were
// recorded with Debian's torch 1.13; PyTorch 2.x's float kernels (pow, sqrt, cumprod) round a
// few ulps differently, so the bound is 1e-5 rather than bit equality.
constexpr float kTolerance = 1e-5f;

bool NearlyEqual(float ours, float expected) {
  return std::abs(ours - expected) <= kTolerance * std::max(1.0f, std::abs(expected));
}
void ExpectClose(const torch::Tensor& ours, const nlohmann::json& expected,
                 const std::string& what) {
  torch::Tensor reference = Floats(expected).flatten();
  torch::Tensor mine = ours.flatten().to(torch::kFloat32);
  ASSERT_EQ(mine.numel(), reference.numel()) << what;
  torch::Tensor error = (mine - reference).abs() / reference.abs().clamp_min(1);
  EXPECT_LE(error.max().item<float>(), kTolerance)
      << what << "\nours " << mine << "\ndiffusers " << reference;
}

TEST(SchedulerGoldenTest, MatchesDiffusers) {
  const nlohmann::json golden = LoadGolden();
  ASSERT_TRUE(golden.contains("cases"));
  ASSERT_GE(golden["cases"].size(), 20u);
  for (const nlohmann::json& c : golden["cases"]) {
    const std::string name = c["kind"].get<std::string>() + " " + c["config"].dump() + " x" +
                             std::to_string(c["num_inference_steps"].get<int64_t>());
    SamplerKind kind = c["kind"] == "ddim" ? SamplerKind::kDdim : SamplerKind::kEuler;
    auto sampler = MakeSampler(kind, c["config"], c["num_inference_steps"].get<int64_t>());
    ASSERT_TRUE(sampler.ok()) << name << ": " << sampler.status();
    const Sampler& s = **sampler;

    std::vector<double> timesteps;
    torch::Tensor ours = s.timesteps().to(torch::kFloat64);
    for (int64_t i = 0; i < ours.numel(); ++i) timesteps.push_back(ours[i].item<double>());
    EXPECT_EQ(timesteps, c["timesteps"].get<std::vector<double>>()) << name;
    EXPECT_PRED2(NearlyEqual, static_cast<float>(s.init_noise_sigma()),
                 c["init_noise_sigma"].get<float>())
        << name;
    if (kind == SamplerKind::kEuler) {
      const std::vector<float>& ours_sigmas = static_cast<const EulerSampler&>(s).sigmas();
      ASSERT_EQ(ours_sigmas.size(), c["sigmas"].size()) << name;
      for (size_t i = 0; i < ours_sigmas.size(); ++i) {
        EXPECT_PRED2(NearlyEqual, ours_sigmas[i], static_cast<float>(c["sigmas"][i].get<double>()))
            << name << " sigma " << i;
      }
    }

    torch::Tensor sample = Floats(c["sample"]);
    ASSERT_EQ(static_cast<int64_t>(c["steps"].size()), s.num_steps()) << name;
    for (int64_t i = 0; i < s.num_steps(); ++i) {
      const nlohmann::json& record = c["steps"][i];
      const std::string at = name + " step " + std::to_string(i);
      ExpectClose(s.ScaleModelInput(sample, i), record["scaled"], at + " scaled input");
      SamplerStep step = s.Step(Floats(record["model_output"]), i, sample);
      ExpectClose(step.pred_original_sample, record["pred_original_sample"], at + " x0");
      ExpectClose(step.prev_sample, record["prev_sample"], at + " prev_sample");
      sample = step.prev_sample;
    }
  }
}

}  // namespace
}  // namespace easel::sampling
