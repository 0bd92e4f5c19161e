#ifndef EASEL_PREPROCESS_CROPS_CROP_BOX_H_
#define EASEL_PREPROCESS_CROPS_CROP_BOX_H_

namespace easel::preprocess {

// A rectangle in the original image's pixel coordinates (upright, at full size).
struct CropBox {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CROPS_CROP_BOX_H_
