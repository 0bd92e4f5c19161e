#include "preprocess/captions/caption_assignment.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace easel::preprocess {
namespace {

std::string_view BaseName(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

absl::StatusOr<std::map<std::string, CaptionRow>> MatchCaptionRows(
    const std::vector<CaptionRow>& rows, const std::vector<std::string>& archive_files,
    absl::string_view csv_name) {
  std::map<std::string, std::vector<std::string>, std::less<>> files_by_base_name;
  for (const std::string& file : archive_files) {
    files_by_base_name[std::string(BaseName(file))].push_back(file);
  }
  std::map<std::string, CaptionRow> captions;
  std::vector<std::string> problems;
  for (const CaptionRow& row : rows) {
    const std::string wanted = absl::StrReplaceAll(row.image_file, {{"\\", "/"}});
    const std::string quoted = absl::StrCat("\"", row.image_file, "\"");
    std::string match;
    if (std::find(archive_files.begin(), archive_files.end(), wanted) != archive_files.end()) {
      match = wanted;
    } else if (auto it = files_by_base_name.find(BaseName(wanted));
               it == files_by_base_name.end()) {
      problems.push_back(
          absl::StrCat("row ", row.row, ": image_file ", quoted, " names no image in the archive"));
      continue;
    } else if (it->second.size() > 1) {
      problems.push_back(absl::StrCat("row ", row.row, ": image_file ", quoted,
                                      " matches several files (", absl::StrJoin(it->second, ", "),
                                      "); give the path inside the archive"));
      continue;
    } else {
      match = it->second.front();
    }
    if (auto [it, inserted] = captions.emplace(match, row); !inserted) {
      problems.push_back(absl::StrCat("row ", row.row, ": a second caption for ", match,
                                      " (first in row ", it->second.row, ")"));
    }
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(csv_name, ": ", absl::StrJoin(problems, "; ")));
  }
  return captions;
}

}  // namespace easel::preprocess
