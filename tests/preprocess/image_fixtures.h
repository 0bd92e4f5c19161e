#ifndef EASEL_TESTS_PREPROCESS_IMAGE_FIXTURES_H_
#define EASEL_TESTS_PREPROCESS_IMAGE_FIXTURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace easel::preprocess::testing {

// A big-endian TIFF structure holding one IFD entry: Orientation (tag 274) = `orientation`.
std::string ExifTiff(int orientation);

// `jpeg` with an APP1 "Exif" segment carrying ExifTiff(orientation) right after SOI.
std::string WithJpegExif(const std::string& jpeg, int orientation);

// `png` with an eXIf chunk carrying ExifTiff(orientation) right after IHDR.
std::string WithPngExif(const std::string& png, int orientation);

// A simple (VP8 or VP8L) `webp` of width x height rewritten as an extended file: a VP8X
// header, the image chunk, an EXIF chunk carrying ExifTiff(orientation).
std::string WithWebpExif(const std::string& webp, int width, int height, int orientation);

// A palette PNG (colour type 3, 8 bits) written by hand: `palette` in BGR, one index per
// pixel row by row, and a tRNS chunk with `alpha` (one per palette entry) when not empty.
std::string PalettePng(int width, int height, const std::vector<cv::Vec3b>& palette,
                       const std::vector<uint8_t>& indices, const std::vector<uint8_t>& alpha);

// A CMYK JPEG of one ink colour, as Photoshop writes them (Adobe marker, inverted samples);
// OpenCV cannot write one, so libjpeg does.
std::string CmykJpeg(int width, int height, uint8_t c, uint8_t m, uint8_t y, uint8_t k);

// A drawn face (grey oval, dark eyes and brows, a light nose bridge, a mouth) that OpenCV's
// frontal-face Haar cascade finds; `side` x `side` pixels of BGR on a dark background.
cv::Mat DrawnFace(int side);

// A flat `background` image with a square of random noise (seeded) at `patch`.
cv::Mat NoisePatchImage(int width, int height, const cv::Rect& patch, int seed = 7);

}  // namespace easel::preprocess::testing

#endif  // EASEL_TESTS_PREPROCESS_IMAGE_FIXTURES_H_
