#include "common/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/ids.h"

namespace easel::safetensors {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DtypeInfo {
  Dtype dtype;
  std::string_view name;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {Dtype::kBool, "BOOL", 1}, {Dtype::kU8, "U8", 1},     {Dtype::kI8, "I8", 1},
    {Dtype::kI16, "I16", 2},   {Dtype::kI32, "I32", 4},   {Dtype::kI64, "I64", 8},
    {Dtype::kF16, "F16", 2},   {Dtype::kBF16, "BF16", 2}, {Dtype::kF32, "F32", 4},
    {Dtype::kF64, "F64", 8},
};

const DtypeInfo& Info(Dtype dtype) {
  for (const auto& info : kDtypes) {
    if (info.dtype == dtype) return info;
  }
  return kDtypes[0];
}

absl::Status Invalid(const std::filesystem::path& path, std::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("safetensors file ", path.string(), ": ", std::string(message)));
}

// Number of elements, or nullopt on a negative dimension or overflow.
std::optional<uint64_t> ElementCount(const std::vector<int64_t>& shape) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim)) {
      return std::nullopt;
    }
    count *= static_cast<uint64_t>(dim);
  }
  return count;
}

struct ParsedHeader {
  std::map<std::string, std::string> metadata;
  struct Entry {
    std::string name;
    Dtype dtype;
    std::vector<int64_t> shape;
    uint64_t begin;
    uint64_t end;
  };
  std::vector<Entry> entries;
};

absl::StatusOr<ParsedHeader> ParseHeader(const std::filesystem::path& path,
                                         std::string_view header_text, uint64_t data_size) {
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return Invalid(path, "header is not valid JSON");
  if (!header.is_object()) return Invalid(path, "header is not a JSON object");
  ParsedHeader parsed;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) return Invalid(path, "__metadata__ is not an object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        if (!meta_value.is_string()) {
          return Invalid(path, absl::StrCat("__metadata__ value of \"", meta_key,
                                            "\" is not a string"));
        }
        parsed.metadata[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    auto tensor_error = [&](std::string_view message) {
      return Invalid(path, absl::StrCat("tensor \"", key, "\": ", std::string(message)));
    };
    if (!value.is_object()) return tensor_error("entry is not an object");
    auto dtype_it = value.find("dtype");
    auto shape_it = value.find("shape");
    auto offsets_it = value.find("data_offsets");
    if (dtype_it == value.end() || !dtype_it->is_string()) {
      return tensor_error("missing or non-string \"dtype\"");
    }
    if (shape_it == value.end() || !shape_it->is_array()) {
      return tensor_error("missing or non-array \"shape\"");
    }
    if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
        !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
      return tensor_error("\"data_offsets\" must be two non-negative integers");
    }
    auto dtype = ParseDtype(dtype_it->get<std::string>());
    if (!dtype.ok()) return tensor_error(std::string(dtype.status().message()));
    ParsedHeader::Entry entry{key, *dtype, {}, (*offsets_it)[0].get<uint64_t>(),
                              (*offsets_it)[1].get<uint64_t>()};
    for (const auto& dim : *shape_it) {
      if (!dim.is_number_unsigned()) return tensor_error("shape has a non-integer or negative dim");
      entry.shape.push_back(dim.get<int64_t>());
    }
    if (entry.begin > entry.end) return tensor_error("data_offsets begin > end");
    if (entry.end > data_size) {
      return tensor_error(absl::StrCat("data_offsets [", entry.begin, ", ", entry.end,
                                       ") lie outside the data region of ", data_size, " bytes"));
    }
    auto count = ElementCount(entry.shape);
    if (!count || *count > std::numeric_limits<uint64_t>::max() / DtypeSize(entry.dtype)) {
      return tensor_error("shape overflows");
    }
    uint64_t expected = *count * DtypeSize(entry.dtype);
    if (entry.end - entry.begin != expected) {
      return tensor_error(absl::StrCat("holds ", entry.end - entry.begin, " bytes but dtype ",
                                       std::string(DtypeName(entry.dtype)), " and its shape need ", expected));
    }
    parsed.entries.push_back(std::move(entry));
  }
  std::vector<const ParsedHeader::Entry*> by_offset;
  for (const auto& entry : parsed.entries) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  uint64_t position = 0;
  for (const auto* entry : by_offset) {
    if (entry->begin < position) {
      return Invalid(path, absl::StrCat("tensor \"", entry->name,
                                        "\" overlaps the previous tensor's data"));
    }
    if (entry->begin > position) {
      return Invalid(path, absl::StrCat("gap in the data region before tensor \"", entry->name,
                                        "\" (offset ", position, " to ", entry->begin, ")"));
    }
    position = entry->end;
  }
  if (position != data_size) {
    return Invalid(path, absl::StrCat("data region has ", data_size - position,
                                      " trailing bytes no tensor covers"));
  }
  std::sort(parsed.entries.begin(), parsed.entries.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return parsed;
}

}  // namespace

size_t DtypeSize(Dtype dtype) { return Info(dtype).size; }

std::string_view DtypeName(Dtype dtype) { return Info(dtype).name; }

absl::StatusOr<Dtype> ParseDtype(std::string_view name) {
  for (const auto& info : kDtypes) {
    if (info.name == name) return info.dtype;
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported dtype \"", std::string(name), "\""));
}

File::~File() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_size_);
}

absl::StatusOr<std::unique_ptr<File>> File::Open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    std::string message =
        absl::StrCat("cannot open safetensors file ", path.string(), ": ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::UnavailableError(message);
  }
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot stat ", path.string()));
  }
  auto file = std::unique_ptr<File>(new File());
  file->path_ = path;
  const uint64_t file_size = static_cast<uint64_t>(info.st_size);
  if (file_size < 8) {
    ::close(fd);
    return Invalid(path, absl::StrCat("file is ", file_size, " bytes, shorter than the 8-byte header length"));
  }
  void* mapping = mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping == MAP_FAILED) {
    return absl::UnavailableError(absl::StrCat("cannot mmap ", path.string()));
  }
  file->mapping_ = mapping;
  file->mapping_size_ = file_size;
  const auto* bytes = static_cast<const uint8_t*>(mapping);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  if (header_size > kMaxHeaderBytes) {
    return Invalid(path, absl::StrCat("header length ", header_size, " exceeds the limit of ",
                                      kMaxHeaderBytes, " bytes"));
  }
  if (header_size > file_size - 8) {
    return Invalid(path, absl::StrCat("header length ", header_size, " runs past the end of the ",
                                      file_size, "-byte file (truncated?)"));
  }
  std::string_view header_text(reinterpret_cast<const char*>(bytes + 8), header_size);
  const uint64_t data_size = file_size - 8 - header_size;
  auto parsed = ParseHeader(path, header_text, data_size);
  if (!parsed.ok()) return parsed.status();
  file->metadata_ = std::move(parsed->metadata);
  const uint8_t* data = bytes + 8 + header_size;
  for (auto& entry : parsed->entries) {
    file->tensors_.push_back(TensorView{std::move(entry.name), entry.dtype, std::move(entry.shape),
                                        data + entry.begin,
                                        static_cast<size_t>(entry.end - entry.begin)});
  }
  return file;
}

absl::StatusOr<TensorView> File::Get(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorView& view, std::string_view key) {
                               return view.name < key;
                             });
  if (it == tensors_.end() || it->name != name) {
    return absl::NotFoundError(
        absl::StrCat("tensor \"", std::string(name), "\" not found in safetensors file ", path_.string()));
  }
  return *it;
}

absl::Status Write(const std::filesystem::path& path, const std::vector<TensorData>& tensors,
                   const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorData*> sorted;
  for (const auto& tensor : tensors) sorted.push_back(&tensor);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->name < b->name; });
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const TensorData& tensor = *sorted[i];
    if (tensor.name.empty() || tensor.name == "__metadata__") {
      return absl::InvalidArgumentError(absl::StrCat("writing ", path.string(),
                                                     ": invalid tensor name \"", tensor.name, "\""));
    }
    if (i > 0 && sorted[i - 1]->name == tensor.name) {
      return absl::InvalidArgumentError(
          absl::StrCat("writing ", path.string(), ": duplicate tensor \"", tensor.name, "\""));
    }
    auto count = ElementCount(tensor.shape);
    if (!count || *count * DtypeSize(tensor.dtype) != tensor.bytes.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "writing ", path.string(), ": tensor \"", tensor.name, "\" has ", tensor.bytes.size(),
          " bytes, which does not match its dtype ", std::string(DtypeName(tensor.dtype)), " and shape"));
    }
    header[tensor.name] = {{"dtype", std::string(DtypeName(tensor.dtype))},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + tensor.bytes.size()}}};
    offset += tensor.bytes.size();
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::error_code error;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), error);
  const std::filesystem::path temp = path.string() + ".tmp-" + NewId();
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return absl::UnavailableError(absl::StrCat("cannot create ", temp.string()));
    }
    char length[8];
    uint64_t size = header_text.size();
    for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((size >> (8 * i)) & 0xff);
    out.write(length, 8);
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const auto* tensor : sorted) {
      out.write(tensor->bytes.data(), static_cast<std::streamsize>(tensor->bytes.size()));
    }
    out.flush();
    if (!out) {
      out.close();
      std::filesystem::remove(temp, error);
      return absl::UnavailableError(absl::StrCat("failed writing ", temp.string()));
    }
  }
  std::filesystem::rename(temp, path, error);
  if (error) {
    std::filesystem::remove(temp, error);
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", temp.string(), " to ", path.string()));
  }
  return absl::OkStatus();
}

}  // namespace easel::safetensors
