#include "trainer/worker/dataset_report.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace easel::worker {
namespace {

std::string StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const nlohmann::json& ArrayField(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : kEmpty;
}

// Removes entries from the end of `list` until the report fits `max_bytes` or the list is
// empty.
template <typename List>
void CutToFit(v1::DatasetReport& report, List& list, int64_t max_bytes) {
  while (list.size() > 0 && static_cast<int64_t>(report.ByteSizeLong()) > max_bytes) {
    // Cut by the overshoot's share of the list, at least one entry, so that large lists
    // converge in a few passes.
    const int64_t over = static_cast<int64_t>(report.ByteSizeLong()) - max_bytes;
    const int64_t bytes = static_cast<int64_t>(report.ByteSizeLong());
    int cut = static_cast<int>(static_cast<int64_t>(list.size()) * over / bytes) + 1;
    if (cut > list.size()) cut = list.size();
    list.DeleteSubrange(list.size() - cut, cut);
  }
}

}  // namespace

absl::StatusOr<v1::DatasetReport> DatasetReportFromManifest(std::string_view json,
                                                            const ReportLimits& limits) {
  const nlohmann::json manifest = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!manifest.is_object() || !manifest.contains("images")) {
    return absl::InvalidArgumentError("the prepared dataset's manifest.json is not a manifest");
  }
  v1::DatasetReport report;
  const nlohmann::json& images = ArrayField(manifest, "images");
  const nlohmann::json& skipped = ArrayField(manifest, "skipped");
  const nlohmann::json& warnings = ArrayField(manifest, "warnings");
  report.set_images_used(static_cast<int64_t>(images.size()));
  report.set_images_skipped(static_cast<int64_t>(skipped.size()));
  report.set_warning_count(static_cast<int64_t>(warnings.size()));
  for (const nlohmann::json& warning : warnings) {
    if (report.warnings_size() == limits.max_warnings) break;
    report.add_warnings(warning.is_string() ? warning.get<std::string>() : warning.dump());
  }
  for (const nlohmann::json& skip : skipped) {
    if (report.skipped_size() == limits.max_entries) break;
    if (!skip.is_object()) continue;
    v1::SkippedFile* file = report.add_skipped();
    file->set_source(StringField(skip, "source"));
    file->set_reason(StringField(skip, "reason"));
  }
  for (const nlohmann::json& image : images) {
    if (report.used_size() == limits.max_entries) break;
    if (!image.is_object()) continue;
    v1::DatasetImage* used = report.add_used();
    used->set_source(StringField(image, "source"));
    used->set_caption(StringField(image, "caption"));
    used->set_caption_source(StringField(image, "caption_source"));
  }
  CutToFit(report, *report.mutable_used(), limits.max_bytes);
  CutToFit(report, *report.mutable_skipped(), limits.max_bytes);
  CutToFit(report, *report.mutable_warnings(), limits.max_bytes);
  return report;
}

absl::StatusOr<v1::DatasetReport> ReadDatasetReport(const std::filesystem::path& manifest,
                                                    const ReportLimits& limits) {
  std::ifstream in(manifest, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", manifest.string()));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return DatasetReportFromManifest(text, limits);
}

}  // namespace easel::worker
