#ifndef EASEL_COMMON_PREPROCESS_INPUTS_H_
#define EASEL_COMMON_PREPROCESS_INPUTS_H_

#include <array>
#include <string_view>

namespace easel {

// The training inputs that decide what easel-preprocess makes of an archive. The coordinator
// keys cached prepared datasets by the archive's digest and a digest of these inputs; the
// worker passes exactly these to easel-preprocess.
inline constexpr std::array<std::string_view, 6> kPreprocessInputs = {
    "resolution",         "token_string",               "caption_prefix",
    "crop_based_on_salience", "use_face_detection_instead", "aspect_buckets"};

// Bump when easel-preprocess makes different output from the same archive and inputs, so that
// datasets prepared by an older version are not reused.
inline constexpr int kPreprocessOutputVersion = 1;

}  // namespace easel

#endif  // EASEL_COMMON_PREPROCESS_INPUTS_H_
