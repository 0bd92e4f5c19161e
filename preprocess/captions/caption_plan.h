#ifndef EASEL_PREPROCESS_CAPTIONS_CAPTION_PLAN_H_
#define EASEL_PREPROCESS_CAPTIONS_CAPTION_PLAN_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "preprocess/ingest/archive.h"

namespace easel::preprocess {

// caption_source of an image captioned by caption_prefix.
inline constexpr char kCaptionPrefixSource[] = "caption_prefix";

struct CaptionOptions {
  std::string token_string;    // replaces the placeholder TOK; not empty, no whitespace
  std::string caption_prefix;  // the caption of files without one of their own
};

struct PlannedCaption {
  std::string caption;  // after placeholder substitution
  // Where it came from, for the manifest's caption_source: "caption.csv row 3" (the table's
  // path in the archive and its row; the header is row 1), "photos/a.txt" (a sidecar's path)
  // or kCaptionPrefixSource.
  std::string source;
};

struct CaptionPlan {
  std::map<std::string, PlannedCaption> by_file;  // one entry per file left in `files`
  std::vector<std::string> warnings;
};

// Takes the caption files out of `files` -- one caption.csv or captions.csv (any case, any
// depth) and every .txt / .caption sidecar -- and gives each remaining file its caption: its
// table row, else its sidecar, else caption_prefix; the whole, case-sensitive word TOK replaced
// by token_string in each. A file with both a row and a sidecar is an error, not a choice.
// Warnings: a sidecar with no file, captions lacking token_string. InvalidArgument: token_string
// empty or holding whitespace; two tables; else one message listing every offending row and
// file -- the table's and sidecars' errors, files captioned twice, and caption_prefix holding
// neither TOK nor token_string while some JPEG/PNG/WebP (by magic bytes) falls back on it.
// docs/inputs.md#captions is the user's account of the same rules.
absl::StatusOr<CaptionPlan> PlanCaptions(std::vector<ArchiveFile>& files,
                                         const CaptionOptions& options);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CAPTIONS_CAPTION_PLAN_H_
