#include "preprocess/images/image_header.h"

#include <cstring>
#include <optional>

#include "absl/status/status.h"

namespace easel::preprocess {
namespace {

uint32_t BigEndian16(std::string_view bytes, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at])) << 8) |
         static_cast<unsigned char>(bytes[at + 1]);
}

uint32_t BigEndian32(std::string_view bytes, size_t at) {
  return (BigEndian16(bytes, at) << 16) | BigEndian16(bytes, at + 2);
}

uint32_t LittleEndian(std::string_view bytes, size_t at, size_t count) {
  uint32_t value = 0;
  for (size_t i = count; i-- > 0;) {
    value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  }
  return value;
}

absl::Status Damaged(const char* why) { return absl::InvalidArgumentError(why); }

absl::StatusOr<ImageSize> Checked(int64_t width, int64_t height) {
  if (width <= 0 || height <= 0) return Damaged("the header declares an empty image");
  return ImageSize{.width = width, .height = height};
}

// Start-of-frame markers (SOF0..SOF15 but DHT C4, JPG C8 and DAC CC).
bool IsStartOfFrame(unsigned char marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Walks the JPEG's segments from SOI to EOI: the size comes from the first start-of-frame
// segment, and entropy-coded data after each start-of-scan is skipped up to the next marker.
absl::StatusOr<ImageSize> JpegSize(std::string_view bytes) {
  constexpr const char* kTruncated = "truncated (no end-of-image marker)";
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  std::optional<ImageSize> size;
  size_t pos = 2;  // after SOI
  while (true) {
    // Markers: one or more 0xFF, then the code. libjpeg skips stray bytes before a marker.
    const void* next = pos < bytes.size()
                           ? std::memchr(bytes.data() + pos, 0xFF, bytes.size() - pos)
                           : nullptr;
    if (next == nullptr) return Damaged(kTruncated);
    pos = static_cast<size_t>(static_cast<const char*>(next) - bytes.data());
    while (pos < bytes.size() && byte(pos) == 0xFF) ++pos;
    if (pos >= bytes.size()) return Damaged(kTruncated);
    const unsigned char marker = byte(pos++);
    if (marker == 0xD9) {  // EOI
      if (!size) return Damaged("no frame header before the end-of-image marker");
      return Checked(size->width, size->height);
    }
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;
    if (pos + 2 > bytes.size()) return Damaged(kTruncated);
    const size_t length = BigEndian16(bytes, pos);
    if (length < 2) return Damaged("a segment with a bad length");
    if (pos + length > bytes.size()) return Damaged(kTruncated);
    if (IsStartOfFrame(marker) && !size) {
      if (length < 8) return Damaged("a frame header too short");
      // precision (1), height (2), width (2)
      size = ImageSize{.width = BigEndian16(bytes, pos + 5), .height = BigEndian16(bytes, pos + 3)};
      if (size->width == 0 || size->height == 0) {
        return Damaged("the frame header declares an empty image");
      }
    }
    pos += length;
    if (marker == 0xDA) {  // SOS: entropy-coded data up to the next marker that is no RSTn
      while (true) {
        const void* ff = pos < bytes.size()
                             ? std::memchr(bytes.data() + pos, 0xFF, bytes.size() - pos)
                             : nullptr;
        if (ff == nullptr) return Damaged(kTruncated);
        pos = static_cast<size_t>(static_cast<const char*>(ff) - bytes.data());
        if (pos + 1 >= bytes.size()) return Damaged(kTruncated);
        const unsigned char following = byte(pos + 1);
        if (following == 0x00 || (following >= 0xD0 && following <= 0xD7)) {
          pos += 2;  // a stuffed 0xFF, or a restart marker
        } else if (following == 0xFF) {
          pos += 1;  // fill byte
        } else {
          break;  // a marker: handled by the outer loop
        }
      }
    }
  }
}

// Signature (8), then IHDR: length (4) = 13, "IHDR", width (4), height (4).
absl::StatusOr<ImageSize> PngSize(std::string_view bytes) {
  if (bytes.size() < 24 || BigEndian32(bytes, 8) != 13 || bytes.substr(12, 4) != "IHDR") {
    return Damaged("no IHDR header");
  }
  const uint32_t width = BigEndian32(bytes, 16);
  const uint32_t height = BigEndian32(bytes, 20);
  if (width > 0x7FFFFFFFu || height > 0x7FFFFFFFu) return Damaged("a bad IHDR header");
  return Checked(width, height);
}

// RIFF (4) size (4) WEBP (4), then the first chunk: fourcc (4), size (4), payload.
absl::StatusOr<ImageSize> WebpSize(std::string_view bytes) {
  if (bytes.size() < 30) return Damaged("no WebP header");
  const std::string_view chunk = bytes.substr(12, 4);
  if (chunk == "VP8X") {  // flags (4), canvas width - 1 (3), canvas height - 1 (3)
    return Checked(int64_t{LittleEndian(bytes, 24, 3)} + 1,
                   int64_t{LittleEndian(bytes, 27, 3)} + 1);
  }
  if (chunk == "VP8L") {  // signature 0x2F, then 14 bits width - 1, 14 bits height - 1
    if (static_cast<unsigned char>(bytes[20]) != 0x2F) return Damaged("a bad VP8L header");
    const uint32_t bits = LittleEndian(bytes, 21, 4);
    return Checked(int64_t{bits & 0x3FFF} + 1, int64_t{(bits >> 14) & 0x3FFF} + 1);
  }
  if (chunk == "VP8 ") {  // frame tag (3), start code 9D 01 2A, width (2), height (2)
    if (bytes.substr(23, 3) != "\x9D\x01\x2A") return Damaged("a bad VP8 header");
    return Checked(LittleEndian(bytes, 26, 2) & 0x3FFF, LittleEndian(bytes, 28, 2) & 0x3FFF);
  }
  return Damaged("no VP8, VP8L or VP8X chunk first");
}

}  // namespace

absl::StatusOr<ImageSize> ReadImageSize(std::string_view bytes, ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return JpegSize(bytes);
    case ImageFormat::kPng: return PngSize(bytes);
    case ImageFormat::kWebp: return WebpSize(bytes);
    default: return absl::InvalidArgumentError("not a JPEG, PNG or WebP");
  }
}

}  // namespace easel::preprocess
