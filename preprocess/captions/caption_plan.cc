#include "preprocess/captions/caption_plan.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "preprocess/captions/caption_assignment.h"
#include "preprocess/captions/caption_csv.h"
#include "preprocess/captions/sidecar_captions.h"
#include "preprocess/captions/token_substitution.h"
#include "preprocess/images/image_format.h"

namespace easel::preprocess {
namespace {

const absl::string_view kPlaceholder(kTokenPlaceholder.data(), kTokenPlaceholder.size());

absl::string_view BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? absl::string_view(path)
                                    : absl::string_view(path).substr(slash + 1);
}

bool IsCaptionTable(const ArchiveFile& file) {
  const absl::string_view base = BaseName(file.name);
  return absl::EqualsIgnoreCase(base, kCaptionCsvName) ||
         absl::EqualsIgnoreCase(base, kCaptionsCsvName);
}

absl::Status ValidateTokenString(const std::string& token_string) {
  if (token_string.empty()) {
    return absl::InvalidArgumentError("token_string must not be empty");
  }
  if (std::any_of(token_string.begin(), token_string.end(),
                  [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); })) {
    return absl::InvalidArgumentError(
        absl::StrCat("token_string \"", token_string,
                     "\" holds whitespace; the trigger token is one word (e.g. \"sks\")"));
  }
  return absl::OkStatus();
}

// Moves the files `take` selects out of `files`, keeping the order of both.
std::vector<ArchiveFile> TakeFiles(std::vector<ArchiveFile>& files,
                                   bool (*take)(const ArchiveFile&)) {
  auto taken = std::stable_partition(files.begin(), files.end(),
                                     [take](const ArchiveFile& file) { return !take(file); });
  std::vector<ArchiveFile> result(std::make_move_iterator(taken),
                                  std::make_move_iterator(files.end()));
  files.erase(taken, files.end());
  return result;
}

bool IsSidecar(const ArchiveFile& file) { return IsSidecarCaptionName(file.name); }

}  // namespace

absl::StatusOr<CaptionPlan> PlanCaptions(std::vector<ArchiveFile>& files,
                                         const CaptionOptions& options) {
  if (absl::Status status = ValidateTokenString(options.token_string); !status.ok()) {
    return status;
  }
  const std::vector<ArchiveFile> tables = TakeFiles(files, IsCaptionTable);
  if (tables.size() > 1) {
    std::vector<std::string> names;
    for (const ArchiveFile& table : tables) names.push_back(table.name);
    return absl::InvalidArgumentError(
        absl::StrCat("the archive holds more than one caption table (", absl::StrJoin(names, ", "),
                     "); keep one caption.csv or captions.csv"));
  }
  const std::vector<ArchiveFile> sidecars = TakeFiles(files, IsSidecar);

  CaptionPlan plan;
  std::vector<std::string> problems;
  std::map<std::string, CaptionRow> table_rows;
  if (!tables.empty()) {
    const ArchiveFile& table = tables.front();
    std::vector<std::string> names;
    for (const ArchiveFile& file : files) names.push_back(file.name);
    absl::StatusOr<std::vector<CaptionRow>> rows = ParseCaptionCsv(table.data, table.name);
    absl::StatusOr<std::map<std::string, CaptionRow>> assigned =
        rows.ok() ? MatchCaptionRows(*rows, names, table.name) : rows.status();
    if (assigned.ok()) {
      table_rows = *std::move(assigned);
    } else {
      problems.emplace_back(assigned.status().message());
    }
  }
  SidecarCaptions sidecar_captions = MatchSidecarCaptions(sidecars, files);
  plan.warnings = std::move(sidecar_captions.warnings);
  problems.insert(problems.end(), sidecar_captions.problems.begin(),
                  sidecar_captions.problems.end());

  std::vector<std::string> missing_token;
  std::vector<std::string> prefixed_images;
  for (const ArchiveFile& file : files) {
    const auto row = table_rows.find(file.name);
    const auto sidecar = sidecar_captions.by_image.find(file.name);
    const bool has_row = row != table_rows.end();
    const bool has_sidecar = sidecar != sidecar_captions.by_image.end();
    PlannedCaption planned;
    if (has_row && has_sidecar) {
      problems.push_back(absl::StrCat(file.name, " is captioned twice, by ", tables.front().name,
                                      " row ", row->second.row, " and by ", sidecar->second.sidecar,
                                      "; keep one"));
      continue;
    } else if (has_row) {
      planned.caption = SubstituteTokenPlaceholder(row->second.caption, options.token_string);
      planned.source = absl::StrCat(tables.front().name, " row ", row->second.row);
    } else if (has_sidecar) {
      planned.caption = SubstituteTokenPlaceholder(sidecar->second.caption, options.token_string);
      planned.source = sidecar->second.sidecar;
    } else {
      planned.caption = SubstituteTokenPlaceholder(options.caption_prefix, options.token_string);
      planned.source = kCaptionPrefixSource;
      if (IsSupportedImageFormat(DetectImageFormat(file.data))) {
        prefixed_images.push_back(file.name);
      }
    }
    if (planned.source != kCaptionPrefixSource &&
        !ContainsWholeWord(planned.caption, options.token_string)) {
      missing_token.push_back(planned.source);
    }
    plan.by_file.emplace(file.name, std::move(planned));
  }
  if (problems.empty() && !prefixed_images.empty() &&
      !ContainsWholeWord(SubstituteTokenPlaceholder(options.caption_prefix, options.token_string),
                         options.token_string)) {
    problems.push_back(absl::StrCat(
        "caption_prefix \"", options.caption_prefix, "\" holds neither the placeholder ",
        kPlaceholder, " nor token_string \"", options.token_string, "\", yet it is the caption of ",
        prefixed_images.size(), " image(s) without a caption of their own (",
        absl::StrJoin(prefixed_images, ", "),
        "), so the trained token would appear in none of their captions; put ", kPlaceholder,
        " in caption_prefix (e.g. \"a photo of ", kPlaceholder,
        "\") or caption those images in caption.csv or a .txt beside each"));
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  if (!missing_token.empty()) {
    plan.warnings.push_back(absl::StrCat(missing_token.size(), " caption(s) hold neither ",
                                         kPlaceholder, " nor token_string \"", options.token_string,
                                         "\" (", absl::StrJoin(missing_token, ", "),
                                         "); those images do not teach the token"));
  }
  return plan;
}

}  // namespace easel::preprocess
