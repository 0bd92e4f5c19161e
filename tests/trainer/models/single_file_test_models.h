#ifndef EASEL_TESTS_TRAINER_MODELS_SINGLE_FILE_TEST_MODELS_H_
#define EASEL_TESTS_TRAINER_MODELS_SINGLE_FILE_TEST_MODELS_H_

// Small models of each architecture and their state dicts written in the original
// (CompVis / SGM / OpenCLIP) key names, by an inverse naming table written independently of
// trainer/models/single_file*.cc.

#include <map>
#include <string>

#include <torch/types.h>

#include "trainer/models/autoencoder_kl.h"
#include "trainer/models/clip_text_model.h"
#include "trainer/models/single_file.h"
#include "trainer/models/unet_2d_condition.h"

namespace easel::models::single_file_test {

// Our modules (the reference) and their tensors under the original names (the file).
struct Original {
  SingleFileArchitecture architecture;
  UNet2DConditionModel unet{nullptr};
  AutoencoderKL vae{nullptr};
  CLIPTextModel text_encoder{nullptr};
  CLIPTextModel text_encoder_2{nullptr};
  std::map<std::string, torch::Tensor> file;  // original key names
};

// SD 1.x: 3 levels of 2 layers, conv projections, 8 heads, CLIP ViT-L; the file also holds the
// position_ids buffer.
Original MakeSd1();
// SD 2.x: linear projections, head dim 64, OpenCLIP ViT-H with 3 blocks and a text_projection
// (the converted encoder keeps 2 blocks).
Original MakeSd2();
// SDXL: depths 0/1/2 per level, text_time embedding, CLIP ViT-L + OpenCLIP bigG (projection
// 128 -> 96).
Original MakeSdxl();

}  // namespace easel::models::single_file_test

#endif  // EASEL_TESTS_TRAINER_MODELS_SINGLE_FILE_TEST_MODELS_H_
