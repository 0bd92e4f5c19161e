#ifndef EASEL_PREPROCESS_CROPS_ASPECT_BUCKETS_H_
#define EASEL_PREPROCESS_CROPS_ASPECT_BUCKETS_H_

#include <vector>

#include <opencv2/core/types.hpp>

namespace easel::preprocess {

inline constexpr int kBucketStep = 64;  // bucket sides are multiples of this

// Aspect-ratio buckets for training at `resolution` (as kohya's make_bucket_resolutions): the
// square bucket (resolution rounded down to kBucketStep), and for every width that is a
// multiple of kBucketStep the largest height, also a multiple, keeping width x height within
// resolution², and that bucket turned sideways; aspect ratios between 1:2 and 2:1. Sorted by
// width, then height; empty when resolution < kBucketStep.
std::vector<cv::Size> MakeAspectBuckets(int resolution);

// The bucket whose aspect ratio is nearest to `image`'s (compared as logarithms, so 1:2 and
// 2:1 are equally far from 1:1); the first such bucket on a tie. `buckets` is not empty.
cv::Size NearestBucket(const std::vector<cv::Size>& buckets, cv::Size image);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CROPS_ASPECT_BUCKETS_H_
