#ifndef EASEL_PREPROCESS_CAPTIONS_CAPTION_ASSIGNMENT_H_
#define EASEL_PREPROCESS_CAPTIONS_CAPTION_ASSIGNMENT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "preprocess/captions/caption_csv.h"

namespace easel::preprocess {

// Matches caption table rows to archive files by file name, not by position: a row's
// image_file is compared with each file's base name (a row giving a path inside the archive
// matches that path exactly, which settles two files of the same base name).
// Returns archive file name -> the row captioning it (caption before placeholder substitution).
// InvalidArgument, prefixed with `csv_name`, listing every offending row: a row naming no file
// of the archive, a row matching several files, two rows for the same file.
absl::StatusOr<std::map<std::string, CaptionRow>> MatchCaptionRows(
    const std::vector<CaptionRow>& rows, const std::vector<std::string>& archive_files,
    absl::string_view csv_name = kCaptionCsvName);

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_CAPTIONS_CAPTION_ASSIGNMENT_H_
