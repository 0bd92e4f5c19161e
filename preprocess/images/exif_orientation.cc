#include "preprocess/images/exif_orientation.h"

#include <cstdint>
#include <optional>

#include <opencv2/core.hpp>

namespace easel::preprocess {
namespace {

using namespace std::string_view_literals;

constexpr uint16_t kOrientationTag = 0x0112;
constexpr uint16_t kTiffShort = 3;
constexpr std::string_view kExifHeader = "Exif\0\0"sv;

unsigned Byte(std::string_view bytes, size_t at) {
  return static_cast<unsigned char>(bytes[at]);
}

uint32_t Read(std::string_view bytes, size_t at, size_t count, bool big_endian) {
  uint32_t value = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t index = big_endian ? at + i : at + count - 1 - i;
    value = (value << 8) | Byte(bytes, index);
  }
  return value;
}

// Orientation from a TIFF structure (what follows "Exif\0\0"): IFD0's tag 274.
std::optional<int> OrientationFromTiff(std::string_view tiff) {
  if (tiff.size() < 8) return std::nullopt;
  bool big_endian = false;
  if (tiff.starts_with("MM"sv)) {
    big_endian = true;
  } else if (!tiff.starts_with("II"sv)) {
    return std::nullopt;
  }
  if (Read(tiff, 2, 2, big_endian) != 42) return std::nullopt;
  const size_t ifd = Read(tiff, 4, 4, big_endian);
  if (ifd > tiff.size() - 2) return std::nullopt;
  const size_t entries = Read(tiff, ifd, 2, big_endian);
  for (size_t i = 0; i < entries; ++i) {
    const size_t entry = ifd + 2 + 12 * i;
    if (entry > tiff.size() - 12) return std::nullopt;
    if (Read(tiff, entry, 2, big_endian) != kOrientationTag) continue;
    if (Read(tiff, entry + 2, 2, big_endian) != kTiffShort) return std::nullopt;
    const int orientation = static_cast<int>(Read(tiff, entry + 8, 2, big_endian));
    if (orientation < 1 || orientation > 8) return std::nullopt;
    return orientation;
  }
  return std::nullopt;
}

std::string_view WithoutExifHeader(std::string_view payload) {
  return payload.starts_with(kExifHeader) ? payload.substr(kExifHeader.size()) : payload;
}

// The payload of the first APP1 segment holding Exif, before the first start-of-scan.
std::optional<std::string_view> JpegExif(std::string_view bytes) {
  size_t pos = 2;  // after SOI
  while (pos + 4 <= bytes.size()) {
    if (Byte(bytes, pos) != 0xFF) return std::nullopt;
    const unsigned marker = Byte(bytes, pos + 1);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return std::nullopt;  // start of scan, end of image
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length field
      pos += 2;
      continue;
    }
    const size_t length = Read(bytes, pos + 2, 2, /*big_endian=*/true);
    if (length < 2 || pos + 2 + length > bytes.size()) return std::nullopt;
    const std::string_view payload = bytes.substr(pos + 4, length - 2);
    if (marker == 0xE1 && payload.starts_with(kExifHeader)) return WithoutExifHeader(payload);
    pos += 2 + length;
  }
  return std::nullopt;
}

std::optional<std::string_view> PngExif(std::string_view bytes) {
  size_t pos = 8;  // after the signature
  while (pos + 12 <= bytes.size()) {
    const size_t length = Read(bytes, pos, 4, /*big_endian=*/true);
    const std::string_view type = bytes.substr(pos + 4, 4);
    if (length > bytes.size() - pos - 12) return std::nullopt;
    if (type == "eXIf"sv) return WithoutExifHeader(bytes.substr(pos + 8, length));
    if (type == "IEND"sv) return std::nullopt;
    pos += 12 + length;
  }
  return std::nullopt;
}

std::optional<std::string_view> WebpExif(std::string_view bytes) {
  size_t pos = 12;  // after "RIFF", the size and "WEBP"
  while (pos + 8 <= bytes.size()) {
    const std::string_view fourcc = bytes.substr(pos, 4);
    const size_t length = Read(bytes, pos + 4, 4, /*big_endian=*/false);
    if (length > bytes.size() - pos - 8) return std::nullopt;
    if (fourcc == "EXIF"sv) return WithoutExifHeader(bytes.substr(pos + 8, length));
    pos += 8 + length + (length & 1);
  }
  return std::nullopt;
}

}  // namespace

int ReadExifOrientation(std::string_view bytes, ImageFormat format) {
  std::optional<std::string_view> tiff;
  switch (format) {
    case ImageFormat::kJpeg: tiff = JpegExif(bytes); break;
    case ImageFormat::kPng: tiff = PngExif(bytes); break;
    case ImageFormat::kWebp: tiff = WebpExif(bytes); break;
    default: break;
  }
  if (!tiff) return 1;
  return OrientationFromTiff(*tiff).value_or(1);
}

bool OrientationSwapsSides(int orientation) { return orientation >= 5 && orientation <= 8; }

cv::Mat ApplyExifOrientation(const cv::Mat& stored, int orientation) {
  cv::Mat upright;
  switch (orientation) {
    case 2: cv::flip(stored, upright, 1); break;
    case 3: cv::rotate(stored, upright, cv::ROTATE_180); break;
    case 4: cv::flip(stored, upright, 0); break;
    case 5: cv::transpose(stored, upright); break;
    case 6: cv::rotate(stored, upright, cv::ROTATE_90_CLOCKWISE); break;
    case 7:
      cv::transpose(stored, upright);
      cv::flip(upright, upright, -1);
      break;
    case 8: cv::rotate(stored, upright, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: return stored;
  }
  return upright;
}

}  // namespace easel::preprocess
