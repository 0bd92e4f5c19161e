#ifndef EASEL_PREPROCESS_CAPTIONS_CAPTION_CSV_H_
#define EASEL_PREPROCESS_CAPTIONS_CAPTION_CSV_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace easel::preprocess {

// The two names a caption table may have; an archive holds at most one of them, at any depth.
inline constexpr char kCaptionCsvName[] = "caption.csv";
inline constexpr char kCaptionsCsvName[] = "captions.csv";

struct CaptionRow {
  int row = 0;  // 1-based record number in the file; the header is row 1
  std::string image_file;
  std::string caption;
};

// Parses a caption table: RFC 4180 (comma-separated, fields optionally in double quotes with ""
// for a quote, quoted fields may hold commas and line breaks; CRLF or LF line ends); a leading
// UTF-8 byte-order mark is skipped. The header names the columns `image_file` and `caption`
// in any order (surrounding spaces ignored; other columns allowed and ignored). Blank lines are
// skipped. Values are trimmed of surrounding spaces.
// InvalidArgument, prefixed with `csv_name` (the file's path in the archive), listing every
// offending row: a missing header column, bad quoting, a row with too few fields, an empty
// image_file or an empty caption, a value that is not valid UTF-8.
absl::StatusOr<std::vector<CaptionRow>> ParseCaptionCsv(
    std::string_view text, absl::string_view csv_name = kCaptionCsvName);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CAPTIONS_CAPTION_CSV_H_
