#ifndef EASEL_PREPROCESS_CAPTIONS_SIDECAR_CAPTIONS_H_
#define EASEL_PREPROCESS_CAPTIONS_SIDECAR_CAPTIONS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "preprocess/ingest/archive.h"

namespace easel::preprocess {

// True for a sidecar caption file's name: one ending in ".txt" or ".caption" (any case).
bool IsSidecarCaptionName(std::string_view name);

struct SidecarCaption {
  std::string sidecar;  // the caption file's path in the archive
  std::string caption;  // its text, before placeholder substitution
};

struct SidecarCaptions {
  std::map<std::string, SidecarCaption> by_image;  // archive file name -> its sidecar
  std::vector<std::string> warnings;
  // One per offending sidecar, naming it; the caller refuses the archive when any (gathered
  // here rather than returned as a status so they join the caption table's in one message).
  std::vector<std::string> problems;
};

// Pairs each sidecar with the file beside it of the same stem: "photos/a.txt" or
// "photos/a.caption" captions "photos/a.jpg" (same directory; the stem is the name up to its
// last '.'). When several files share the stem, those whose magic bytes name a supported image
// are preferred. Text is UTF-8, a leading byte-order mark skipped, trimmed of surrounding ASCII
// whitespace. A sidecar with no file beside it is a warning and is otherwise ignored.
// Problems: empty text, text that is not UTF-8, several images of its stem, two sidecars for
// one image (neither is kept in by_image).
SidecarCaptions MatchSidecarCaptions(const std::vector<ArchiveFile>& sidecars,
                                     const std::vector<ArchiveFile>& files);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CAPTIONS_SIDECAR_CAPTIONS_H_
