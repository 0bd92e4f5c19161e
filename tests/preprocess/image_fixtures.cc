#include "tests/preprocess/image_fixtures.h"

#include <jpeglib.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>

#include <opencv2/imgproc.hpp>

namespace easel::preprocess::testing {
namespace {

std::string BigEndian32(uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
          static_cast<char>(value >> 8), static_cast<char>(value)};
}

std::string LittleEndian(uint32_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>(value >> (8 * i));
  return out;
}

std::string PngChunk(const std::string& type, const std::string& data) {
  const std::string body = type + data;
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size());
  return BigEndian32(static_cast<uint32_t>(data.size())) + body +
         BigEndian32(static_cast<uint32_t>(crc));
}

std::string RiffChunk(const std::string& fourcc, const std::string& data) {
  std::string chunk = fourcc + LittleEndian(static_cast<uint32_t>(data.size()), 4) + data;
  if (data.size() % 2 == 1) chunk += '\0';
  return chunk;
}

constexpr size_t kPngSignatureAndIhdr = 8 + 25;

}  // namespace

std::string ExifTiff(int orientation) {
  return std::string("MM\0\x2a\0\0\0\x08", 8) +        // header, IFD at 8
         std::string("\0\x01", 2) +                     // one entry
         std::string("\x01\x12\0\x03\0\0\0\x01", 8) +  // 274, SHORT, count 1
         std::string("\0", 1) + static_cast<char>(orientation) +
         std::string("\0\0", 2) +     // value, padded to 4 bytes
         std::string("\0\0\0\0", 4);  // no next IFD
}

std::string WithJpegExif(const std::string& jpeg, int orientation) {
  const std::string payload = std::string("Exif\0\0", 6) + ExifTiff(orientation);
  const size_t length = payload.size() + 2;
  const std::string segment = std::string("\xff\xe1", 2) + static_cast<char>(length >> 8) +
                              static_cast<char>(length & 0xff) + payload;
  return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

std::string WithPngExif(const std::string& png, int orientation) {
  return png.substr(0, kPngSignatureAndIhdr) + PngChunk("eXIf", ExifTiff(orientation)) +
         png.substr(kPngSignatureAndIhdr);
}

std::string WithWebpExif(const std::string& webp, int width, int height, int orientation) {
  const std::string vp8x = std::string(1, '\x08') + std::string(3, '\0') +  // flags: EXIF
                           LittleEndian(width - 1, 3) + LittleEndian(height - 1, 3);
  const std::string chunks = RiffChunk("VP8X", vp8x) + webp.substr(12) +
                             RiffChunk("EXIF", ExifTiff(orientation));
  const std::string body = "WEBP" + chunks;
  return "RIFF" + LittleEndian(static_cast<uint32_t>(body.size()), 4) + body;
}

std::string PalettePng(int width, int height, const std::vector<cv::Vec3b>& palette,
                       const std::vector<uint8_t>& indices, const std::vector<uint8_t>& alpha) {
  std::string plte;
  for (const cv::Vec3b& bgr : palette) plte += {char(bgr[2]), char(bgr[1]), char(bgr[0])};
  std::string raw;
  for (int y = 0; y < height; ++y) {
    raw += '\0';  // filter: none
    raw.append(indices.begin() + y * width, indices.begin() + (y + 1) * width);
  }
  uLongf size = compressBound(raw.size());
  std::string idat(size, '\0');
  compress(reinterpret_cast<Bytef*>(idat.data()), &size,
           reinterpret_cast<const Bytef*>(raw.data()), raw.size());
  idat.resize(size);
  const std::string ihdr = BigEndian32(width) + BigEndian32(height) + std::string("\x08\x03\0\0\0", 5);
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) +
                    PngChunk("PLTE", plte);
  if (!alpha.empty()) png += PngChunk("tRNS", std::string(alpha.begin(), alpha.end()));
  return png + PngChunk("IDAT", idat) + PngChunk("IEND", "");
}

std::string CmykJpeg(int width, int height, uint8_t c, uint8_t m, uint8_t y, uint8_t k) {
  jpeg_compress_struct info;
  jpeg_error_mgr errors;
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = width;
  info.image_height = height;
  info.input_components = 4;
  info.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 95, TRUE);
  jpeg_start_compress(&info, TRUE);
  std::vector<unsigned char> row(width * 4);
  for (int x = 0; x < width; ++x) {
    row[4 * x] = 255 - c;
    row[4 * x + 1] = 255 - m;
    row[4 * x + 2] = 255 - y;
    row[4 * x + 3] = 255 - k;
  }
  while (info.next_scanline < info.image_height) {
    JSAMPROW pointer = row.data();
    jpeg_write_scanlines(&info, &pointer, 1);
  }
  jpeg_finish_compress(&info);
  std::string jpeg(reinterpret_cast<char*>(buffer), size);
  std::free(buffer);
  jpeg_destroy_compress(&info);
  return jpeg;
}

cv::Mat DrawnFace(int side) {
  cv::Mat grey(400, 400, CV_8UC1, cv::Scalar(60));
  cv::ellipse(grey, {200, 200}, {90, 120}, 0, 0, 360, cv::Scalar(190), -1);
  for (int dx : {-38, 38}) {
    cv::ellipse(grey, {200 + dx, 175}, {24, 10}, 0, 0, 360, cv::Scalar(50), -1);  // eye
    cv::rectangle(grey, cv::Rect(200 + dx - 28, 140, 56, 12), cv::Scalar(70), -1);  // brow
  }
  cv::rectangle(grey, cv::Rect(188, 170, 24, 60), cv::Scalar(215), -1);  // nose bridge
  cv::ellipse(grey, {200, 235}, {18, 8}, 0, 0, 360, cv::Scalar(120), -1);
  cv::ellipse(grey, {200, 275}, {38, 10}, 0, 0, 360, cv::Scalar(80), -1);  // mouth
  cv::GaussianBlur(grey, grey, {0, 0}, 3);
  cv::Mat bgr;
  cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
  cv::resize(bgr, bgr, cv::Size(side, side), 0, 0, side < 400 ? cv::INTER_AREA : cv::INTER_CUBIC);
  return bgr;
}

cv::Mat NoisePatchImage(int width, int height, const cv::Rect& patch, int seed) {
  cv::Mat image(height, width, CV_8UC3, cv::Scalar(90, 120, 90));
  cv::RNG rng(seed);
  cv::Mat noise(patch.size(), CV_8UC3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  noise.copyTo(image(patch));
  return image;
}

}  // namespace easel::preprocess::testing
