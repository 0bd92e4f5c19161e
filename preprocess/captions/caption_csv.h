#ifndef EASEL_PREPROCESS_CAPTIONS_CAPTION_CSV_H_
#define EASEL_PREPROCESS_CAPTIONS_CAPTION_CSV_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace easel::preprocess {

inline constexpr char kCaptionCsvName[] = "caption.csv";

struct CaptionRow {
  int row = 0;  // 1-based record number in the file; the header is row 1
  std::string image_file;
  std::string caption;
};

// Parses caption.csv: RFC 4180 (comma-separated, fields optionally in double quotes with ""
// for a quote, quoted fields may hold commas and line breaks; CRLF or LF line ends); a leading
// UTF-8 byte-order mark is skipped. The header names the columns `image_file` and `caption`
// in any order (surrounding spaces ignored; other columns allowed and ignored). Blank lines are
// skipped. Values are trimmed of surrounding spaces.
// InvalidArgument listing every offending row: a missing header column, bad quoting, a row
// with too few fields, an empty image_file or an empty caption.
absl::StatusOr<std::vector<CaptionRow>> ParseCaptionCsv(std::string_view text);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CAPTIONS_CAPTION_CSV_H_
