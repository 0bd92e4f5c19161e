#include "trainer/methods/sdxl_time_ids.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>

#include "trainer/methods/dataset_encoding.h"

namespace easel::methods {
namespace {

data::PreparedImage Image(int64_t width, int64_t height, int64_t original_width,
                          int64_t original_height, data::CropBox crop) {
  data::PreparedImage image;
  image.width = width;
  image.height = height;
  image.original_width = original_width;
  image.original_height = original_height;
  image.crop = crop;
  return image;
}

using TimeIds = std::array<double, 6>;

TEST(SdxlTimeIdsTest, OriginalSizeFromTheManifestCropScaledToTheTargetTargetIsTheBucket) {
  // A 4000x3000 landscape photo, its centre 3000x3000 square cropped and resized to 1024.
  data::PreparedImage square =
      Image(1024, 1024, 4000, 3000, {.x = 500, .y = 0, .width = 3000, .height = 3000});
  // diffusers: original (h, w); the crop's top-left where the image is resized so the crop is
  // 1024 (500 * 1024 / 3000 = 170.67); the target (h, w).
  EXPECT_EQ(SdxlTimeIds(square, 1024, 1024), (TimeIds{3000, 4000, 0, 171, 1024, 1024}));

  // A 3000x4000 portrait photo in the 832x1216 bucket: crop 2737x4000 at x=131.
  data::PreparedImage portrait =
      Image(832, 1216, 3000, 4000, {.x = 131, .y = 0, .width = 2737, .height = 4000});
  EXPECT_EQ(SdxlTimeIds(portrait, 832, 1216),
            (TimeIds{4000, 3000, 0, std::round(131.0 * 832 / 2737), 1216, 832}));

  // A crop away from the top: y scales by the height.
  data::PreparedImage low =
      Image(64, 32, 200, 300, {.x = 0, .y = 150, .width = 200, .height = 100});
  EXPECT_EQ(SdxlTimeIds(low, 64, 32), (TimeIds{300, 200, 48, 0, 32, 64}));
}

TEST(SdxlTimeIdsTest, TargetIsTheTrainingSizeNotThePreparedOne) {
  data::PreparedImage image =
      Image(64, 32, 640, 320, {.x = 0, .y = 0, .width = 640, .height = 320});
  EXPECT_EQ(SdxlTimeIds(image, 128, 64), (TimeIds{320, 640, 0, 0, 64, 128}));
}

TEST(SdxlTimeIdsTest, WithoutOriginalSizeTheImageIsItsOwnOriginalAtTheTargetSize) {
  data::PreparedImage image;
  image.width = 32;
  image.height = 32;
  image.crop = {.x = 0, .y = 0, .width = 32, .height = 32};
  EXPECT_EQ(SdxlTimeIds(image, 32, 32), (TimeIds{32, 32, 0, 0, 32, 32}));
  // Trained at another resolution: as before the manifest had original sizes.
  EXPECT_EQ(SdxlTimeIds(image, 16, 16), (TimeIds{16, 16, 0, 0, 16, 16}));
}

TEST(TrainingSizeTest, ThePreparedSizeUnlessAnotherResolutionIsAsked) {
  auto size = [](int64_t w, int64_t h, int64_t dataset, int64_t resolution) {
    TrainingSize s = TrainingSizeOf(w, h, dataset, resolution);
    return std::array<int64_t, 2>{s.width, s.height};
  };
  using Size = std::array<int64_t, 2>;
  EXPECT_EQ(size(384, 640, 512, 0), (Size{384, 640}));
  EXPECT_EQ(size(384, 640, 512, 512), (Size{384, 640}));
  EXPECT_EQ(size(512, 512, 512, 768), (Size{768, 768}));
  EXPECT_EQ(size(32, 32, 32, 16), (Size{16, 16}));
  // Scaled and rounded to multiples of 8: 384 * 1.5 = 576, 640 * 1.5 = 960.
  EXPECT_EQ(size(384, 640, 512, 768), (Size{576, 960}));
  // 448 * 1000 / 512 = 875 -> 872; 576 * 1000 / 512 = 1125 -> 1128.
  EXPECT_EQ(size(448, 576, 512, 1000), (Size{872, 1128}));
  EXPECT_EQ(size(16, 8, 512, 8), (Size{8, 8}));  // never below 8
}

}  // namespace
}  // namespace easel::methods
