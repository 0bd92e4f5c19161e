#include "preprocess/images/image_format.h"

namespace easel::preprocess {

ImageFormat DetectImageFormat(std::string_view bytes) {
  using namespace std::string_view_literals;
  if (bytes.starts_with("\xFF\xD8\xFF"sv)) return ImageFormat::kJpeg;
  if (bytes.starts_with("\x89PNG\r\n\x1A\n"sv)) return ImageFormat::kPng;
  if (bytes.size() >= 12 && bytes.starts_with("RIFF"sv) && bytes.substr(8, 4) == "WEBP"sv) {
    return ImageFormat::kWebp;
  }
  if (bytes.starts_with("GIF87a"sv) || bytes.starts_with("GIF89a"sv)) return ImageFormat::kGif;
  if (bytes.starts_with("BM"sv) && bytes.size() >= 14) return ImageFormat::kBmp;
  if (bytes.starts_with("II*\0"sv) || bytes.starts_with("MM\0*"sv)) return ImageFormat::kTiff;
  if (bytes.size() >= 12 && bytes.substr(4, 4) == "ftyp"sv) {
    const std::string_view brand = bytes.substr(8, 4);
    if (brand == "heic"sv || brand == "heix"sv || brand == "mif1"sv || brand == "avif"sv) {
      return ImageFormat::kHeif;
    }
  }
  return ImageFormat::kUnknown;
}

bool IsSupportedImageFormat(ImageFormat format) {
  return format == ImageFormat::kJpeg || format == ImageFormat::kPng ||
         format == ImageFormat::kWebp;
}

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kTiff: return "TIFF";
    case ImageFormat::kHeif: return "HEIF/AVIF";
    case ImageFormat::kUnknown: break;
  }
  return "unknown";
}

}  // namespace easel::preprocess
