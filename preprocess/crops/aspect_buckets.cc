#include "preprocess/crops/aspect_buckets.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace easel::preprocess {
namespace {

double LogAspect(cv::Size size) {
  return std::log(static_cast<double>(size.width) / size.height);
}

}  // namespace

std::vector<cv::Size> MakeAspectBuckets(int resolution) {
  std::vector<cv::Size> buckets;
  if (resolution < kBucketStep) return buckets;
  const int64_t max_area = int64_t{resolution} * resolution;
  const int square = resolution / kBucketStep * kBucketStep;
  buckets.emplace_back(square, square);
  for (int width = kBucketStep; int64_t{width} * kBucketStep <= max_area; width += kBucketStep) {
    const int height = static_cast<int>(max_area / width / kBucketStep * kBucketStep);
    if (height < kBucketStep || width > 2 * height || height > 2 * width) continue;
    buckets.emplace_back(width, height);
    buckets.emplace_back(height, width);
  }
  std::sort(buckets.begin(), buckets.end(), [](cv::Size a, cv::Size b) {
    return a.width != b.width ? a.width < b.width : a.height < b.height;
  });
  buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
  return buckets;
}

cv::Size NearestBucket(const std::vector<cv::Size>& buckets, cv::Size image) {
  const double aspect = LogAspect(image);
  cv::Size nearest = buckets.front();
  double best = std::abs(LogAspect(nearest) - aspect);
  for (const cv::Size& bucket : buckets) {
    const double distance = std::abs(LogAspect(bucket) - aspect);
    if (distance < best) {
      best = distance;
      nearest = bucket;
    }
  }
  return nearest;
}

}  // namespace easel::preprocess
