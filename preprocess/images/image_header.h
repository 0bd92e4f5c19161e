#ifndef EASEL_PREPROCESS_IMAGES_IMAGE_HEADER_H_
#define EASEL_PREPROCESS_IMAGES_IMAGE_HEADER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "preprocess/images/image_format.h"

namespace easel::preprocess {

struct ImageSize {
  int64_t width = 0;
  int64_t height = 0;
};

// The pixel size a JPEG, PNG or WebP declares, read from its header without decoding, so that
// a huge image can be refused before any memory is spent on it. For a JPEG the segment
// structure is walked to the end-of-image marker, and a file without one is refused: libjpeg
// would decode a truncated JPEG without complaint, filling the missing part with grey.
// PNG: the IHDR chunk. WebP: the VP8X canvas, or the VP8 / VP8L frame header.
// InvalidArgument (the reason, e.g. "truncated (no end-of-image marker)") when the header is
// missing, damaged or declares a zero size; other formats are InvalidArgument too.
absl::StatusOr<ImageSize> ReadImageSize(std::string_view bytes, ImageFormat format);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_IMAGES_IMAGE_HEADER_H_
