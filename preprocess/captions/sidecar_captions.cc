#include "preprocess/captions/sidecar_captions.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "preprocess/images/image_format.h"
#include "preprocess/ingest/entry_path.h"

namespace easel::preprocess {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// "photos/a.jpg" -> "photos/a": directory and stem, the key a sidecar and its image share.
std::string StemPath(std::string_view name) {
  const size_t slash = name.find_last_of('/');
  const size_t base = slash == std::string_view::npos ? 0 : slash + 1;
  const size_t dot = name.find_last_of('.');
  if (dot == std::string_view::npos || dot <= base) return std::string(name);
  return std::string(name.substr(0, dot));
}

bool LooksLikeUsableImage(const ArchiveFile& file) {
  return IsSupportedImageFormat(DetectImageFormat(file.data));
}

}  // namespace

bool IsSidecarCaptionName(std::string_view name) {
  const absl::string_view view(name.data(), name.size());
  return absl::EndsWithIgnoreCase(view, ".txt") || absl::EndsWithIgnoreCase(view, ".caption");
}

SidecarCaptions MatchSidecarCaptions(const std::vector<ArchiveFile>& sidecars,
                                     const std::vector<ArchiveFile>& files) {
  std::map<std::string, std::vector<const ArchiveFile*>> files_by_stem;
  for (const ArchiveFile& file : files) files_by_stem[StemPath(file.name)].push_back(&file);

  SidecarCaptions result;
  std::vector<std::string>& problems = result.problems;
  std::set<std::string> captioned_twice;
  for (const ArchiveFile& sidecar : sidecars) {
    const std::string stem = StemPath(sidecar.name);
    const auto found = files_by_stem.find(stem);
    if (found == files_by_stem.end()) {
      result.warnings.push_back(absl::StrCat("ignored ", sidecar.name, ": no file named ", stem,
                                             ".* beside it for it to caption"));
      continue;
    }
    std::vector<const ArchiveFile*> images;
    for (const ArchiveFile* file : found->second) {
      if (LooksLikeUsableImage(*file)) images.push_back(file);
    }
    if (images.empty()) images = found->second;
    if (images.size() > 1) {
      std::vector<std::string> names;
      for (const ArchiveFile* image : images) names.push_back(image->name);
      problems.push_back(
          absl::StrCat(sidecar.name, ": sits beside several files it could caption (",
                       absl::StrJoin(names, ", "), "); give each image its own name"));
      continue;
    }
    absl::string_view text(sidecar.data);
    absl::ConsumePrefix(&text, absl::string_view(kUtf8Bom.data(), kUtf8Bom.size()));
    text = absl::StripAsciiWhitespace(text);
    if (!IsValidUtf8(std::string_view(text.data(), text.size()))) {
      problems.push_back(absl::StrCat(sidecar.name, ": not valid UTF-8 text (save it as UTF-8)"));
      continue;
    }
    if (text.empty()) {
      problems.push_back(absl::StrCat(sidecar.name, ": empty caption"));
      continue;
    }
    const std::string& image = images.front()->name;
    auto [it, inserted] = result.by_image.emplace(
        image, SidecarCaption{.sidecar = sidecar.name, .caption = std::string(text)});
    if (!inserted) {
      problems.push_back(absl::StrCat(sidecar.name, ": a second caption file for ", image,
                                      " (besides ", it->second.sidecar, "); keep one"));
      captioned_twice.insert(image);
    }
  }
  for (const std::string& image : captioned_twice) result.by_image.erase(image);
  return result;
}

}  // namespace easel::preprocess
