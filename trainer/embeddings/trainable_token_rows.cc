#include "trainer/embeddings/trainable_token_rows.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace easel::embeddings {

absl::StatusOr<TrainableTokenRows> TrainableTokenRows::Create(models::CLIPTextModel text_encoder,
                                                              std::vector<int64_t> ids) {
  try {
    TrainableTokenRows rows;
    rows.weight_ = text_encoder->token_embedding()->weight;
    const int64_t row_count = rows.weight_.size(0);
    if (ids.empty()) return absl::InvalidArgumentError("no token rows to train");
    for (int64_t id : ids) {
      if (id < 0 || id >= row_count) {
        return absl::InvalidArgumentError(absl::StrCat(
            "token id ", id, " is not a row of the text encoder's ", row_count,
            "-row token embeddings"));
      }
    }
    rows.ids_ = std::move(ids);
    torch::NoGradGuard no_grad;
    const auto device = rows.weight_.device();
    rows.index_ = torch::tensor(rows.ids_, torch::kLong).to(device);
    rows.original_ = rows.weight_.detach().clone();
    rows.frozen_rows_ = torch::ones({row_count, 1}, torch::TensorOptions(torch::kBool).device(device));
    rows.frozen_rows_.index_fill_(0, rows.index_, false);
    rows.weight_.set_requires_grad(true);
    return rows;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("selecting token rows to train: ", e.what()));
  }
}

void TrainableTokenRows::ZeroFrozenGradients() const {
  torch::NoGradGuard no_grad;
  torch::Tensor grad = weight_.grad();
  if (grad.defined()) grad.masked_fill_(frozen_rows_, 0);
}

void TrainableTokenRows::RestoreFrozenRows() const {
  torch::NoGradGuard no_grad;
  weight_.copy_(torch::where(frozen_rows_, original_, weight_));
}

torch::Tensor TrainableTokenRows::Vectors() const {
  torch::NoGradGuard no_grad;
  return weight_.detach().index_select(0, index_).to(torch::kCPU, torch::kFloat32).clone();
}

}  // namespace easel::embeddings
