#ifndef EASEL_TRAINER_EMBEDDINGS_TRAINABLE_TOKEN_ROWS_H_
#define EASEL_TRAINER_EMBEDDINGS_TRAINABLE_TOKEN_ROWS_H_

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "trainer/models/clip_text_model.h"

namespace easel::embeddings {

// The rows of a text encoder's token table that textual inversion trains, as diffusers'
// textual_inversion.py does: the whole table is the optimizer's parameter; after backward,
// ZeroFrozenGradients() keeps gradients on the trained rows only, and after each optimizer step
// RestoreFrozenRows() puts every other row back to its value at Create (weight decay would
// otherwise move them; diffusers' index_no_updates). Create after the rows are initialised and
// after the last ResizeTokenEmbeddings; the snapshot costs one copy of the table.
class TrainableTokenRows {
 public:
  // ids: the rows to train (e.g. AddPlaceholderToken's). Sets requires_grad on the table.
  // InvalidArgument when ids is empty or names a row the table lacks.
  static absl::StatusOr<TrainableTokenRows> Create(models::CLIPTextModel text_encoder,
                                                   std::vector<int64_t> ids);

  // The token table (text_model.embeddings.token_embedding.weight) to give the optimizer.
  torch::Tensor parameter() const { return weight_; }
  const std::vector<int64_t>& ids() const { return ids_; }
  void ZeroFrozenGradients() const;
  void RestoreFrozenRows() const;
  // The trained rows, in ids order, [n, dim] float32 on CPU (what an embedding file holds).
  torch::Tensor Vectors() const;

 private:
  TrainableTokenRows() = default;

  std::vector<int64_t> ids_;
  torch::Tensor weight_;
  torch::Tensor original_;     // the table at Create
  torch::Tensor frozen_rows_;  // [rows, 1] bool, true where the row is not trained
  torch::Tensor index_;        // ids_ as a tensor on the table's device
};

}  // namespace easel::embeddings

#endif  // EASEL_TRAINER_EMBEDDINGS_TRAINABLE_TOKEN_ROWS_H_
