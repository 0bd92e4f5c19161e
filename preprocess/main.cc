// easel-preprocess: an uploaded archive in, a prepared dataset directory out. stdout carries
// JSON lines only (progress, then done or error); exit 0 ok, 2 user error, 1 anything else.

#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "preprocess/manifest.h"
#include "preprocess/prepare_dataset.h"

namespace {

constexpr int kExitUserError = 2;
constexpr int kExitFailure = 1;

void EmitJsonLine(const nlohmann::ordered_json& event) {
  const std::string line =
      event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

bool IsUserError(const absl::Status& status) {
  return absl::IsInvalidArgument(status) || absl::IsResourceExhausted(status) ||
         absl::IsFailedPrecondition(status) || absl::IsNotFound(status);
}

int EmitError(const std::string& message, bool user) {
  EmitJsonLine({{"event", "error"}, {"message", message}, {"class", user ? "user" : "crash"}});
  return user ? kExitUserError : kExitFailure;
}

int Run(int argc, char** argv) {
  easel::preprocess::PreprocessOptions options;
  CLI::App app{"Turns an archive of training images into a prepared dataset directory:\n"
               "manifest.json plus images/NNNN.png, cropped around a face, the salient part\n"
               "or the centre and resized (masks/NNNN.png for images with transparency).\n"
               "stdout carries JSON lines only (progress, done, error).\n"
               "Exit codes: 0 ok, 2 user error (bad archive, no images, bad captions), 1 other."};
  app.footer(
      "Example:\n"
      "  easel-preprocess --archive data.zip --output dataset --resolution 512 \\\n"
      "      --token-string sks --caption-prefix \"a photo of TOK\"\n"
      "Captions come from caption.csv or captions.csv in the archive (columns image_file,\n"
      "caption), matched by file name, or from a sidecar photo.txt / photo.caption beside\n"
      "photo.jpg; other images get --caption-prefix. The whole word TOK in any caption is\n"
      "replaced by --token-string.");
  app.add_option("--archive", options.archive, "The uploaded archive: zip, tar or tar.gz (told apart by magic bytes)")->required();
  app.add_option("--output", options.output,
                 "Dataset directory to create (must not exist, or be empty)")
      ->required();
  app.add_option("--resolution", options.resolution,
                 "Side of the square output images (with --aspect-buckets: about the area of\n"
                 "that square)")
      ->capture_default_str()
      ->check(CLI::Range(easel::preprocess::kMinResolution, easel::preprocess::kMaxResolution));
  app.add_option("--token-string", options.token_string,
                 "Trigger token that replaces the placeholder TOK in captions")
      ->capture_default_str();
  app.add_option("--caption-prefix", options.caption_prefix,
                 "Caption for images without a caption.csv row or a sidecar")
      ->capture_default_str();
  app.add_option("--crop-based-on-salience", options.crop_based_on_salience,
                 "true: centre each crop on the salient part of the image (OpenCV's saliency);\n"
                 "false: on the image's centre. Ignored when face detection is on")
      ->default_str(options.crop_based_on_salience ? "true" : "false");
  app.add_option("--use-face-detection-instead", options.use_face_detection_instead,
                 "true: centre each crop on the largest face found (OpenCV's Haar cascade),\n"
                 "or on the image's centre when none is found (noted in the manifest)")
      ->default_str(options.use_face_detection_instead ? "true" : "false");
  app.add_option("--aspect-buckets", options.aspect_buckets,
                 "true: crop each image to the aspect-ratio bucket nearest its own (about\n"
                 "resolution² pixels, sides multiples of 64, 1:2 to 2:1) instead of a square")
      ->default_str(options.aspect_buckets ? "true" : "false");
  app.add_option("--max-pixels", options.max_pixels,
                 "Images with more pixels than this are skipped before decoding")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--face-cascade", options.face_cascade,
                 "OpenCV Haar cascade (XML) used by --use-face-detection-instead")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return EmitError(e.what(), /*user=*/true);
  }

  absl::StatusOr<easel::preprocess::PreprocessResult> result = easel::preprocess::PrepareDataset(
      options, [](const easel::preprocess::ProgressUpdate& update) {
        EmitJsonLine({{"event", "progress"},
                      {"step", update.step},
                      {"total", update.total},
                      {"message", update.message}});
      });
  if (!result.ok()) {
    return EmitError(std::string(result.status().message()), IsUserError(result.status()));
  }
  EmitJsonLine({{"event", "done"},
                {"images", result->images},
                {"skipped", result->skipped},
                {"manifest", std::string(easel::preprocess::kManifestFileName)}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    return EmitError(e.what(), /*user=*/false);
  } catch (...) {
    return EmitError("unknown exception", /*user=*/false);
  }
}
