#ifndef EASEL_PREPROCESS_CROPS_SALIENCE_H_
#define EASEL_PREPROCESS_CROPS_SALIENCE_H_

#include <optional>

#include <opencv2/core/mat.hpp>

namespace easel::preprocess {

// The centre of what stands out in a BGR image, in its pixels: the centre of mass of the
// strongest part (above mean + one standard deviation) of OpenCV's spectral-residual
// saliency map, computed on a copy at most kSalienceSide pixels long. nullopt when nothing
// stands out (a flat image) or the image is too small to tell.
std::optional<cv::Point2d> SalienceFocus(const cv::Mat& bgr);

inline constexpr int kSalienceSide = 128;

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CROPS_SALIENCE_H_
