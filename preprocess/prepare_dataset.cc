#include "preprocess/prepare_dataset.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "preprocess/captions/caption_plan.h"
#include "preprocess/crops/aspect_buckets.h"
#include "preprocess/crops/crop_focus.h"
#include "preprocess/image_preparation.h"
#include "preprocess/ingest/archive_reader.h"
#include "preprocess/manifest.h"
#include "preprocess/ordered_parallel.h"
#include "preprocess/staging_directory.h"
#include "preprocess/upscale/lanczos_upscaler.h"

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
  if (options.aspect_buckets && options.resolution < kBucketStep) {
    return absl::InvalidArgumentError(absl::StrCat("aspect_buckets needs a resolution of at least ",
                                                   kBucketStep, " (got ", options.resolution,
                                                   ")"));
  }
  if (options.max_pixels < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_pixels must be positive (got ", options.max_pixels, ")"));
  }
  if (options.threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be 0 (one per core) or more (got ", options.threads, ")"));
  }
  return absl::OkStatus();
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

// Keeps OpenCV's own thread pool idle while our workers run (one image per core already
// keeps the cores busy), and restores it afterwards.
class OpenCvThreadsPaused {
 public:
  explicit OpenCvThreadsPaused(bool pause) : previous_(cv::getNumThreads()), paused_(pause) {
    if (paused_) cv::setNumThreads(1);
  }
  ~OpenCvThreadsPaused() {
    if (paused_) cv::setNumThreads(previous_);
  }
  OpenCvThreadsPaused(const OpenCvThreadsPaused&) = delete;
  OpenCvThreadsPaused& operator=(const OpenCvThreadsPaused&) = delete;

 private:
  int previous_;
  bool paused_;
};

int WorkerCount(const PreprocessOptions& options, size_t files) {
  const int wanted = options.threads > 0
                         ? options.threads
                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return static_cast<int>(std::clamp<size_t>(files, 1, wanted));
}

// What became of one archive file: a prepared image, or the reason it was skipped.
struct FileOutcome {
  std::optional<PreparedImage> image;
  std::string skip_reason;
};

class DatasetBuilder {
 public:
  DatasetBuilder(const PreprocessOptions& options, StagingDirectory& staging,
                 CaptionPlan captions, CropFocus focus_mode)
      : staging_(staging),
        captions_(std::move(captions)),
        focus_mode_(focus_mode) {
    manifest_.resolution = options.resolution;
    manifest_.warnings = std::move(captions_.warnings);
  }

  // Records one file, in source order: skipped (unusable, or the same pixels as an earlier
  // image), or written as the next image. Returns the progress message.
  absl::StatusOr<std::string> Commit(const std::string& name, FileOutcome outcome) {
    if (!outcome.image) return Skip(name, outcome.skip_reason);
    PreparedImage& prepared = *outcome.image;
    const auto [first, inserted] = sources_by_pixels_.emplace(prepared.pixels_sha256, name);
    if (!inserted) {
      manifest_.warnings.push_back(
          absl::StrCat(name, " has the same pixels as ", first->second));
      return Skip(name, absl::StrCat("a duplicate: the same pixels as ", first->second));
    }
    const size_t number = manifest_.images.size();
    ManifestImage image{.source = name,
                        .file = absl::StrFormat("images/%04d.png", number),
                        .width = prepared.size.width,
                        .height = prepared.size.height,
                        .original_width = prepared.original_size.width,
                        .original_height = prepared.original_size.height,
                        .crop = prepared.crop,
                        .focus = CropFocusName(prepared.focus)};
    EASEL_RETURN_IF_ERROR(staging_.WriteFile(image.file, prepared.png));
    if (!prepared.mask_png.empty()) {
      image.mask = absl::StrFormat("masks/%04d.png", number);
      EASEL_RETURN_IF_ERROR(staging_.WriteFile(image.mask, prepared.mask_png));
    }
    if (focus_mode_ == CropFocus::kFace && prepared.focus != CropFocus::kFace) {
      manifest_.warnings.push_back(
          absl::StrCat(name, ": no face found; the crop is centred on the image"));
    }
    const PlannedCaption& caption = captions_.by_file.at(name);
    image.caption = caption.caption;
    image.caption_source = caption.source;
    manifest_.images.push_back(std::move(image));
    return absl::StrCat("decoded ", name);
  }

  Manifest& manifest() { return manifest_; }

 private:
  std::string Skip(const std::string& name, const std::string& reason) {
    manifest_.skipped.push_back({name, reason});
    if (const PlannedCaption& caption = captions_.by_file.at(name);
        caption.source != kCaptionPrefixSource) {
      manifest_.warnings.push_back(
          absl::StrCat(caption.source, " captions ", name, ", which was skipped"));
    }
    return absl::StrCat("skipped ", name, ": ", reason);
  }

  StagingDirectory& staging_;
  CaptionPlan captions_;
  CropFocus focus_mode_;
  std::map<std::string, std::string> sources_by_pixels_;  // the first source of each picture
  Manifest manifest_;
};

absl::StatusOr<PreprocessResult> Prepare(const PreprocessOptions& options,
                                         const ProgressCallback& on_progress) {
  EASEL_RETURN_IF_ERROR(ValidateOptions(options));
  const CropFocus focus_mode =
      ChooseCropFocus(options.crop_based_on_salience, options.use_face_detection_instead);
  std::vector<FocusFinder> focus_finders;
  EASEL_ASSIGN_OR_RETURN(FocusFinder first_finder,
                         FocusFinder::Create(focus_mode, options.face_cascade));
  focus_finders.push_back(std::move(first_finder));
  EASEL_ASSIGN_OR_RETURN(StagingDirectory staging, StagingDirectory::Create(options.output));
  EASEL_ASSIGN_OR_RETURN(ArchiveContents contents,
                         ReadArchive(options.archive, options.limits));
  EASEL_ASSIGN_OR_RETURN(
      CaptionPlan captions,
      PlanCaptions(contents.files, {.token_string = options.token_string,
                                    .caption_prefix = options.caption_prefix}));
  std::sort(contents.files.begin(), contents.files.end(),
            [](const ArchiveFile& a, const ArchiveFile& b) { return a.name < b.name; });

  const int workers = WorkerCount(options, contents.files.size());
  while (static_cast<int>(focus_finders.size()) < workers) {
    EASEL_ASSIGN_OR_RETURN(FocusFinder finder,
                           FocusFinder::Create(focus_mode, options.face_cascade));
    focus_finders.push_back(std::move(finder));
  }
  const LanczosUpscaler upscaler;
  ImageSettings settings{.resolution = options.resolution,
                         .limits = {.max_pixels = options.max_pixels},
                         .upscaler = &upscaler};
  if (options.aspect_buckets) settings.buckets = MakeAspectBuckets(options.resolution);

  DatasetBuilder builder(options, staging, std::move(captions), focus_mode);
  std::vector<ArchiveFile>& files = contents.files;
  const int total = static_cast<int>(files.size());
  const auto work = [&](int worker, int index) -> absl::StatusOr<FileOutcome> {
    ArchiveFile& file = files[index];
    absl::StatusOr<PreparedImage> prepared =
        PrepareImage(file.data, settings, focus_finders[worker]);
    std::string().swap(file.data);
    if (prepared.ok()) return FileOutcome{.image = *std::move(prepared)};
    if (absl::IsInvalidArgument(prepared.status())) {
      return FileOutcome{.skip_reason = std::string(prepared.status().message())};
    }
    return absl::Status(prepared.status().code(),
                        absl::StrCat(file.name, ": ", prepared.status().message()));
  };
  const auto commit = [&](int index, FileOutcome outcome) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(std::string message,
                           builder.Commit(files[index].name, std::move(outcome)));
    if (on_progress) {
      on_progress({.step = index + 1, .total = total, .message = std::move(message)});
    }
    return absl::OkStatus();
  };
  {
    const OpenCvThreadsPaused paused(workers > 1);
    EASEL_RETURN_IF_ERROR(RunInOrder<FileOutcome>(total, workers, work, commit));
  }
  Manifest& manifest = builder.manifest();
  if (manifest.images.empty()) return NoImagesError(manifest);
  for (const cv::Size& bucket : settings.buckets) {
    manifest.buckets.push_back({.width = bucket.width, .height = bucket.height});
  }
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
