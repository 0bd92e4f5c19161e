#ifndef EASEL_PREPROCESS_IMAGES_IMAGE_FORMAT_H_
#define EASEL_PREPROCESS_IMAGES_IMAGE_FORMAT_H_

#include <string_view>

namespace easel::preprocess {

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp, kGif, kBmp, kTiff, kHeif };

// The format named by a file's magic bytes (never by its name).
ImageFormat DetectImageFormat(std::string_view bytes);

// JPEG, PNG and WebP: the formats the dataset accepts.
bool IsSupportedImageFormat(ImageFormat format);

const char* ImageFormatName(ImageFormat format);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_IMAGES_IMAGE_FORMAT_H_
