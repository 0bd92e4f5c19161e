#include "preprocess/prepare_dataset.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "preprocess/captions/caption_assignment.h"
#include "preprocess/captions/caption_csv.h"
#include "preprocess/captions/token_substitution.h"
#include "preprocess/images/image_codec.h"
#include "preprocess/images/square_crop.h"
#include "preprocess/ingest/archive_reader.h"
#include "preprocess/manifest.h"
#include "preprocess/staging_directory.h"

namespace easel::preprocess {
namespace {

constexpr size_t kSkipReasonsInError = 5;

absl::Status ValidateOptions(const PreprocessOptions& options) {
  if (options.resolution < kMinResolution || options.resolution > kMaxResolution) {
    return absl::InvalidArgumentError(absl::StrCat("resolution ", options.resolution,
                                                   " is out of range [", kMinResolution, ", ",
                                                   kMaxResolution, "]"));
  }
  if (options.token_string.empty()) {
    return absl::InvalidArgumentError("token_string must not be empty");
  }
  return absl::OkStatus();
}

bool IsCaptionCsv(std::string_view name) {
  const size_t slash = name.find_last_of('/');
  return (slash == std::string_view::npos ? name : name.substr(slash + 1)) == kCaptionCsvName;
}

// Removes caption.csv from `files` and returns its captions keyed by archive file name.
absl::StatusOr<std::map<std::string, std::string>> TakeCaptions(std::vector<ArchiveFile>& files) {
  auto csv = std::partition(files.begin(), files.end(),
                            [](const ArchiveFile& file) { return !IsCaptionCsv(file.name); });
  std::vector<ArchiveFile> csv_files(std::make_move_iterator(csv),
                                     std::make_move_iterator(files.end()));
  files.erase(csv, files.end());
  if (csv_files.empty()) return std::map<std::string, std::string>{};
  if (csv_files.size() > 1) {
    std::vector<std::string> names;
    for (const ArchiveFile& file : csv_files) names.push_back(file.name);
    return absl::InvalidArgumentError(absl::StrCat("the archive holds more than one ",
                                                   kCaptionCsvName, " (",
                                                   absl::StrJoin(names, ", "), "); keep one"));
  }
  EASEL_ASSIGN_OR_RETURN(std::vector<CaptionRow> rows, ParseCaptionCsv(csv_files[0].data));
  std::vector<std::string> names;
  for (const ArchiveFile& file : files) names.push_back(file.name);
  return AssignCaptions(rows, names);
}

absl::Status NoImagesError(const Manifest& manifest) {
  std::string detail;
  if (manifest.skipped.empty()) {
    detail = "it holds no files besides those ignored";
  } else {
    std::vector<std::string> reasons;
    for (size_t i = 0; i < manifest.skipped.size() && i < kSkipReasonsInError; ++i) {
      reasons.push_back(
          absl::StrCat(manifest.skipped[i].source, ": ", manifest.skipped[i].reason));
    }
    if (manifest.skipped.size() > kSkipReasonsInError) reasons.push_back("…");
    detail = absl::StrCat(manifest.skipped.size(), " file(s) skipped (",
                          absl::StrJoin(reasons, "; "), ")");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the archive contains no images that can be used (JPEG, PNG or WebP); ",
                   detail));
}

class DatasetBuilder {
 public:
  DatasetBuilder(const PreprocessOptions& options, StagingDirectory& staging,
                 std::map<std::string, std::string> csv_captions)
      : options_(options), staging_(staging), csv_captions_(std::move(csv_captions)) {
    manifest_.resolution = options.resolution;
  }

  // Decodes, crops and writes one file, or records why it was skipped. Returns the progress
  // message.
  absl::StatusOr<std::string> Add(const ArchiveFile& file) {
    absl::StatusOr<cv::Mat> decoded = DecodeImage(file.data);
    if (!decoded.ok()) {
      if (!absl::IsInvalidArgument(decoded.status())) return decoded.status();
      const std::string reason(decoded.status().message());
      manifest_.skipped.push_back({file.name, reason});
      if (csv_captions_.contains(file.name)) {
        manifest_.warnings.push_back(
            absl::StrCat(kCaptionCsvName, " names ", file.name, ", which was skipped"));
      }
      return absl::StrCat("skipped ", file.name, ": ", reason);
    }
    const CropBox crop = CenterSquare(decoded->cols, decoded->rows);
    const cv::Mat square = CropAndResize(*decoded, crop, options_.resolution);
    EASEL_ASSIGN_OR_RETURN(const std::string png, EncodeRgbPng(square));
    const std::string relative = absl::StrFormat("images/%04d.png", manifest_.images.size());
    EASEL_RETURN_IF_ERROR(staging_.WriteFile(relative, png));
    ManifestImage image{.source = file.name,
                        .file = relative,
                        .width = square.cols,
                        .height = square.rows,
                        .original_width = decoded->cols,
                        .original_height = decoded->rows,
                        .crop = crop};
    if (auto it = csv_captions_.find(file.name); it != csv_captions_.end()) {
      image.caption = SubstituteTokenPlaceholder(it->second, options_.token_string);
      image.caption_source = kCaptionSourceCsv;
    } else {
      image.caption = SubstituteTokenPlaceholder(options_.caption_prefix, options_.token_string);
      image.caption_source = kCaptionSourcePrefix;
    }
    manifest_.images.push_back(std::move(image));
    return absl::StrCat("decoded ", file.name);
  }

  Manifest& manifest() { return manifest_; }

 private:
  const PreprocessOptions& options_;
  StagingDirectory& staging_;
  std::map<std::string, std::string> csv_captions_;
  Manifest manifest_;
};

absl::StatusOr<PreprocessResult> Prepare(const PreprocessOptions& options,
                                         const ProgressCallback& on_progress) {
  EASEL_RETURN_IF_ERROR(ValidateOptions(options));
  EASEL_ASSIGN_OR_RETURN(StagingDirectory staging, StagingDirectory::Create(options.output));
  EASEL_ASSIGN_OR_RETURN(ArchiveContents contents,
                         ReadArchive(options.archive, options.limits));
  using CaptionsByFile = std::map<std::string, std::string>;
  EASEL_ASSIGN_OR_RETURN(CaptionsByFile captions, TakeCaptions(contents.files));
  std::sort(contents.files.begin(), contents.files.end(),
            [](const ArchiveFile& a, const ArchiveFile& b) { return a.name < b.name; });

  DatasetBuilder builder(options, staging, std::move(captions));
  const int total = static_cast<int>(contents.files.size());
  for (int i = 0; i < total; ++i) {
    ArchiveFile& file = contents.files[i];
    EASEL_ASSIGN_OR_RETURN(std::string message, builder.Add(file));
    std::string().swap(file.data);
    if (on_progress) on_progress({.step = i + 1, .total = total, .message = std::move(message)});
  }
  Manifest& manifest = builder.manifest();
  if (manifest.images.empty()) return NoImagesError(manifest);
  for (const IgnoredEntry& entry : contents.ignored) {
    if (entry.name.ends_with('/')) continue;  // directories carry nothing worth noting
    manifest.warnings.push_back(absl::StrCat("ignored ", entry.name, ": ", entry.reason));
  }
  EASEL_RETURN_IF_ERROR(staging.WriteFile(kManifestFileName, SerializeManifest(manifest)));
  EASEL_RETURN_IF_ERROR(staging.Commit());
  std::filesystem::path destination =
      std::filesystem::absolute(options.output).lexically_normal();
  if (!destination.has_filename()) destination = destination.parent_path();
  return PreprocessResult{.images = static_cast<int>(manifest.images.size()),
                          .skipped = static_cast<int>(manifest.skipped.size()),
                          .manifest = destination / kManifestFileName};
}

}  // namespace

absl::StatusOr<PreprocessResult> PrepareDataset(const PreprocessOptions& options,
                                                const ProgressCallback& on_progress) {
  try {
    return Prepare(options, on_progress);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("preprocessing failed: ", e.what()));
  }
}

}  // namespace easel::preprocess
