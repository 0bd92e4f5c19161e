#include "preprocess/images/bgr_conversion.h"

#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace easel::preprocess {
namespace {

bool FullyOpaque(const cv::Mat& alpha) {
  double lowest = 0;
  cv::minMaxLoc(alpha, &lowest);
  return lowest >= 255;
}

// bgr = bgr * a + grey * (1 - a), rounded, in 8-bit integers.
void CompositeOntoGrey(cv::Mat& bgr, const cv::Mat& alpha) {
  for (int y = 0; y < bgr.rows; ++y) {
    uchar* pixel = bgr.ptr<uchar>(y);
    const uchar* a = alpha.ptr<uchar>(y);
    for (int x = 0; x < bgr.cols; ++x, pixel += 3) {
      const int opacity = a[x];
      const int background = kNeutralBackground * (255 - opacity) + 127;
      for (int c = 0; c < 3; ++c) pixel[c] = (pixel[c] * opacity + background) / 255;
    }
  }
}

}  // namespace

absl::StatusOr<BgrWithMask> ToBgrWithMask(const cv::Mat& decoded) {
  cv::Mat eight_bit;
  if (decoded.depth() == CV_8U) {
    eight_bit = decoded;
  } else if (decoded.depth() == CV_16U) {
    decoded.convertTo(eight_bit, CV_8U, 1.0 / 257.0);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported pixel depth (OpenCV depth ", decoded.depth(), ")"));
  }
  BgrWithMask out;
  cv::Mat alpha;
  switch (eight_bit.channels()) {
    case 1: cv::cvtColor(eight_bit, out.bgr, cv::COLOR_GRAY2BGR); break;
    case 2: {
      std::vector<cv::Mat> planes;
      cv::split(eight_bit, planes);
      cv::cvtColor(planes[0], out.bgr, cv::COLOR_GRAY2BGR);
      alpha = planes[1];
      break;
    }
    case 3: out.bgr = eight_bit; break;
    case 4:
      cv::cvtColor(eight_bit, out.bgr, cv::COLOR_BGRA2BGR);
      cv::extractChannel(eight_bit, alpha, 3);
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported number of channels: ", eight_bit.channels()));
  }
  if (!alpha.empty() && !FullyOpaque(alpha)) {
    CompositeOntoGrey(out.bgr, alpha);
    out.mask = alpha;
  }
  return out;
}

}  // namespace easel::preprocess
