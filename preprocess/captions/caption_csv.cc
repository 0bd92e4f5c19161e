#include "preprocess/captions/caption_csv.h"

#include <algorithm>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "preprocess/ingest/entry_path.h"

namespace easel::preprocess {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

struct Record {
  int row = 0;
  std::vector<std::string> fields;
};

// Splits RFC 4180 text into records, or InvalidArgument naming the row with bad quoting.
absl::StatusOr<std::vector<Record>> SplitRecords(std::string_view text,
                                                 absl::string_view csv_name) {
  std::vector<Record> records;
  Record current{.row = 1, .fields = {}};
  std::string field;
  bool in_quotes = false;
  bool field_was_quoted = false;
  bool record_has_content = false;
  auto end_field = [&] {
    current.fields.push_back(std::move(field));
    field.clear();
    field_was_quoted = false;
  };
  auto end_record = [&] {
    end_field();
    const bool blank = !record_has_content && current.fields.size() == 1 &&
                       absl::StripAsciiWhitespace(current.fields[0]).empty();
    if (!blank) records.push_back(std::move(current));
    current = Record{.row = current.row + 1, .fields = {}};
    record_has_content = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c != '"') {
        field.push_back(c);
      } else if (i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else {
        in_quotes = false;
      }
      continue;
    }
    if (c == ',') {
      record_has_content = true;
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
    } else if (c == '"' && absl::StripAsciiWhitespace(field).empty() && !field_was_quoted) {
      field.clear();
      in_quotes = true;
      field_was_quoted = true;
      record_has_content = true;
    } else if (field_was_quoted && c != ' ' && c != '\t') {
      return absl::InvalidArgumentError(absl::StrCat(
          csv_name, " row ", current.row,
          ": unexpected text after a closing quote (write a quote inside a quoted field as \"\")"));
    } else if (!field_was_quoted) {
      field.push_back(c);
    }
  }
  if (in_quotes) {
    return absl::InvalidArgumentError(
        absl::StrCat(csv_name, " row ", current.row, ": a quoted field is never closed"));
  }
  end_record();
  return records;
}

std::optional<size_t> FindColumn(const std::vector<std::string>& header, const char* name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (absl::StripAsciiWhitespace(header[i]) == name) return i;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::vector<CaptionRow>> ParseCaptionCsv(std::string_view text,
                                                        absl::string_view csv_name) {
  if (text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
  absl::StatusOr<std::vector<Record>> records = SplitRecords(text, csv_name);
  if (!records.ok()) return records.status();
  if (records->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        csv_name, " is empty; its header must name the columns image_file and caption"));
  }
  const std::vector<std::string>& header = records->front().fields;
  const std::optional<size_t> image_column = FindColumn(header, "image_file");
  const std::optional<size_t> caption_column = FindColumn(header, "caption");
  if (!image_column || !caption_column) {
    std::vector<std::string> missing;
    if (!image_column) missing.push_back("image_file");
    if (!caption_column) missing.push_back("caption");
    return absl::InvalidArgumentError(
        absl::StrCat(csv_name, " header (row ", records->front().row, ") lacks the column(s) ",
                     absl::StrJoin(missing, ", "), "; it must name image_file and caption"));
  }
  const size_t needed = std::max(*image_column, *caption_column) + 1;
  std::vector<CaptionRow> rows;
  std::vector<std::string> problems;
  for (size_t r = 1; r < records->size(); ++r) {
    const Record& record = (*records)[r];
    if (record.fields.size() < needed) {
      problems.push_back(absl::StrCat("row ", record.row, ": has ", record.fields.size(),
                                      " field(s), needs at least ", needed));
      continue;
    }
    CaptionRow row{
        .row = record.row,
        .image_file = std::string(absl::StripAsciiWhitespace(record.fields[*image_column])),
        .caption = std::string(absl::StripAsciiWhitespace(record.fields[*caption_column]))};
    if (!IsValidUtf8(row.image_file) || !IsValidUtf8(row.caption)) {
      problems.push_back(absl::StrCat("row ", record.row, ": text that is not valid UTF-8 (save ",
                                      csv_name, " as UTF-8)"));
    } else if (row.image_file.empty()) {
      problems.push_back(absl::StrCat("row ", record.row, ": empty image_file"));
    } else if (row.caption.empty()) {
      problems.push_back(
          absl::StrCat("row ", record.row, ": empty caption for \"", row.image_file, "\""));
    }
    rows.push_back(std::move(row));
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(csv_name, ": ", absl::StrJoin(problems, "; ")));
  }
  return rows;
}

}  // namespace easel::preprocess
