#include "trainer/models/torch_compat.h"

#include <cmath>

#include <torch/torch.h>

#include "gtest/gtest.h"

namespace easel::compat {
namespace {

TEST(ScaledDotProductAttentionTest, EqualsSoftmaxAttentionWithAdditiveMask) {
  torch::manual_seed(3);
  torch::Tensor q = torch::randn({2, 3, 5, 8});
  torch::Tensor k = torch::randn({2, 3, 7, 8});
  torch::Tensor v = torch::randn({2, 3, 7, 8});
  torch::Tensor mask = torch::zeros({5, 7});
  mask.index_put_({torch::indexing::Slice(), torch::indexing::Slice(4)},
                  -std::numeric_limits<float>::infinity());
  const double scale = 0.3;

  torch::Tensor expected = torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-1, -2)) * scale + mask, -1), v);
  torch::Tensor got = ScaledDotProductAttention(q, k, v, scale, mask);
  EXPECT_TRUE(torch::allclose(got, expected, 1e-5, 1e-6));

  // Masked keys do not contribute: changing them leaves the output alone.
  v.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(4)}, 100.0);
  EXPECT_TRUE(torch::allclose(ScaledDotProductAttention(q, k, v, scale, mask), got, 1e-5, 1e-6));
}

TEST(AutocastGuardTest, LowersMatmulPrecisionOnlyWhileAlive) {
  torch::Tensor a = torch::randn({4, 4});
  {
    AutocastGuard guard(c10::DeviceType::CPU, torch::kBFloat16);
    EXPECT_EQ(torch::mm(a, a).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::mm(a, a).scalar_type(), torch::kFloat32);
}

}  // namespace
}  // namespace easel::compat
