#include "preprocess/ingest/tar_archive.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "preprocess/ingest/archive_collector.h"
#include "preprocess/ingest/entry_path.h"

namespace easel::preprocess {
namespace {

constexpr size_t kBlockBytes = 512;
constexpr size_t kChunkBytes = 64 * 1024;
// A pax extended header or a GNU long name is read into memory: this much at most.
constexpr int64_t kMaxExtensionBytes = int64_t{1} << 20;
// Sizes past this (a petabyte) are taken for damage.
constexpr int64_t kMaxEntryBytes = int64_t{1} << 50;
// Extension headers (pax, GNU long name/link) in a row before the entry they describe.
constexpr int kMaxExtensionHeadersPerEntry = 8;

// Header layout (POSIX ustar; GNU tar uses the same offsets up to the magic).
struct Field {
  size_t offset;
  size_t length;
};
constexpr Field kName{0, 100};
constexpr Field kSize{124, 12};
constexpr Field kChecksum{148, 8};
constexpr size_t kTypeOffset = 156;
constexpr Field kMagic{257, 6};
constexpr Field kPrefix{345, 155};

using Block = std::array<char, kBlockBytes>;

std::string_view FieldOf(const Block& block, Field field) {
  return std::string_view(block.data() + field.offset, field.length);
}

// The field up to its first NUL.
std::string_view CString(std::string_view field) {
  return field.substr(0, std::min(field.find('\0'), field.size()));
}

bool IsZeroBlock(const Block& block) {
  return std::all_of(block.begin(), block.end(), [](char c) { return c == '\0'; });
}

// An octal number (leading spaces, then digits, then spaces or NULs), or GNU base-256 (high
// bit of the first byte set). nullopt when malformed, negative or too large.
std::optional<int64_t> ParseNumber(std::string_view field) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (!field.empty() && (static_cast<unsigned char>(field[0]) & 0x80) != 0) {
    if ((static_cast<unsigned char>(field[0]) & 0x40) != 0) return std::nullopt;  // negative
    int64_t value = static_cast<unsigned char>(field[0]) & 0x3F;
    for (size_t i = 1; i < field.size(); ++i) {
      if (value > (kMax >> 8)) return std::nullopt;
      value = (value << 8) | static_cast<unsigned char>(field[i]);
    }
    return value;
  }
  size_t i = 0;
  while (i < field.size() && field[i] == ' ') ++i;
  int64_t value = 0;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (value > (kMax >> 3)) return std::nullopt;
    value = value * 8 + (field[i] - '0');
  }
  for (; i < field.size(); ++i) {
    if (field[i] != ' ' && field[i] != '\0') return std::nullopt;
  }
  return value;
}

// The stored checksum matches the header's bytes, summed unsigned (POSIX) or signed (what
// some old tars wrote), with the checksum field itself counted as spaces.
bool ChecksumMatches(const Block& block) {
  const std::optional<int64_t> stored = ParseNumber(FieldOf(block, kChecksum));
  if (!stored) return false;
  int64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (size_t i = 0; i < kBlockBytes; ++i) {
    const bool in_field = i >= kChecksum.offset && i < kChecksum.offset + kChecksum.length;
    const char c = in_field ? ' ' : block[i];
    unsigned_sum += static_cast<unsigned char>(c);
    signed_sum += static_cast<signed char>(c);
  }
  return *stored == unsigned_sum || *stored == signed_sum;
}

bool HasUstarMagic(const Block& block) {
  return FieldOf(block, kMagic).substr(0, 5) == "ustar";
}

// The entry's path: the ustar prefix (POSIX "ustar\0" magic only; GNU tar keeps other fields
// there), a slash and the name.
std::string HeaderPath(const Block& block) {
  const std::string_view name = CString(FieldOf(block, kName));
  if (FieldOf(block, kMagic) == std::string_view("ustar\0", 6)) {
    const std::string_view prefix = CString(FieldOf(block, kPrefix));
    if (!prefix.empty()) return std::string(prefix) + "/" + std::string(name);
  }
  return std::string(name);
}

// The keywords of a pax extended header that matter here.
struct PaxAttributes {
  std::optional<std::string> path;
  std::optional<int64_t> size;
  bool sparse = false;
};

std::optional<int64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// Records "<length> <keyword>=<value>\n", the length counting the whole record.
std::optional<PaxAttributes> ParsePax(std::string_view data) {
  PaxAttributes attributes;
  while (!data.empty()) {
    const size_t space = data.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    const std::optional<int64_t> length = ParseDecimal(data.substr(0, space));
    if (!length || *length < static_cast<int64_t>(space) + 3 ||
        *length > static_cast<int64_t>(data.size())) {
      return std::nullopt;
    }
    const std::string_view record = data.substr(0, static_cast<size_t>(*length));
    if (record.back() != '\n') return std::nullopt;
    const std::string_view assignment = record.substr(space + 1, record.size() - space - 2);
    const size_t equals = assignment.find('=');
    if (equals == std::string_view::npos || equals == 0) return std::nullopt;
    const std::string_view keyword = assignment.substr(0, equals);
    const std::string_view value = assignment.substr(equals + 1);
    if (keyword == "path") {
      attributes.path = value.empty() ? std::nullopt : std::optional<std::string>(value);
    } else if (keyword == "size") {
      attributes.size = ParseDecimal(value);
      if (!attributes.size || *attributes.size > kMaxEntryBytes) return std::nullopt;
    } else if (keyword.starts_with("GNU.sparse.")) {
      attributes.sparse = true;
    }
    data.remove_prefix(record.size());
  }
  return attributes;
}

absl::Status Refuse(std::string_view raw_name, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("archive entry ", QuoteEntryName(raw_name),
                                                 " ", absl::string_view(what.data(), what.size())));
}

class TarReader {
 public:
  TarReader(ByteSource& source, const ArchiveLimits& limits, bool compressed)
      : source_(source), collector_(limits), compressed_(compressed) {}

  absl::StatusOr<ArchiveContents> Read() {
    Block block;
    PaxAttributes pax;
    std::optional<std::string> long_name;
    int extension_headers = 0;
    bool first = true;
    while (true) {
      EASEL_RETURN_IF_ERROR(ReadHeader(block));
      if (IsZeroBlock(block)) break;  // end of archive; the padding after it is not read
      if (first && compressed_ && !HasUstarMagic(block)) return NotATar();
      first = false;
      if (!ChecksumMatches(block)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the tar archive is damaged: ",
            last_entry_ ? absl::StrCat("the header after entry ", QuoteEntryName(*last_entry_))
                        : std::string("its first header"),
            " has a bad checksum"));
      }
      const char type = block[kTypeOffset];
      const std::string header_path = HeaderPath(block);
      const std::optional<int64_t> header_size = ParseNumber(FieldOf(block, kSize));
      if (!header_size || *header_size > kMaxEntryBytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the tar archive is damaged: entry ", QuoteEntryName(header_path), " has a bad size"));
      }

      if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
        if (++extension_headers > kMaxExtensionHeadersPerEntry) {
          return absl::InvalidArgumentError(absl::StrCat(
              "the tar archive is damaged: more than ", kMaxExtensionHeadersPerEntry,
              " extended headers in a row after ", DescribeLastEntry()));
        }
        EASEL_ASSIGN_OR_RETURN(const std::string data, ReadExtension(header_path, *header_size));
        if (type == 'x' || type == 'g') {
          std::optional<PaxAttributes> parsed = ParsePax(data);
          if (!parsed) {
            return absl::InvalidArgumentError(absl::StrCat(
                "the tar archive is damaged: a bad pax header after ", DescribeLastEntry()));
          }
          if (type == 'x') {  // 'g' (global) keywords are ignored
            if (parsed->path) pax.path = std::move(parsed->path);
            if (parsed->size) pax.size = parsed->size;
            pax.sparse = pax.sparse || parsed->sparse;
          }
        } else if (type == 'L') {
          long_name = std::string(CString(data));
        }
        continue;
      }

      EASEL_RETURN_IF_ERROR(collector_.CountEntry());
      const std::string raw_name = pax.path ? *pax.path : long_name ? *long_name : header_path;
      const int64_t size = pax.size ? *pax.size : *header_size;
      const bool sparse = pax.sparse;
      pax = PaxAttributes();
      long_name.reset();
      extension_headers = 0;
      last_entry_ = raw_name;
      EASEL_RETURN_IF_ERROR(ReadEntry(raw_name, type, size, sparse));
    }
    return std::move(collector_).Take();
  }

 private:
  std::string DescribeLastEntry() const {
    return last_entry_ ? absl::StrCat("entry ", QuoteEntryName(*last_entry_))
                       : std::string("the start of the archive");
  }

  static absl::Status NotATar() {
    return absl::InvalidArgumentError(
        "the compressed data is not a tar archive (only a tar may be gzip-compressed)");
  }

  absl::Status ReadHeader(Block& block) {
    EASEL_ASSIGN_OR_RETURN(const size_t n, ReadFully(source_, block.data(), block.size()));
    stream_bytes_ += static_cast<int64_t>(n);
    if (n < block.size() && compressed_ && stream_bytes_ == static_cast<int64_t>(n)) {
      return NotATar();
    }
    if (n == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the tar archive ends without its end-of-archive block after ", DescribeLastEntry(),
          "; it is probably truncated"));
    }
    if (n < block.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the tar archive is truncated after ", DescribeLastEntry()));
    }
    return CheckRatio(last_entry_.value_or(""));
  }

  absl::Status CheckRatio(std::string_view name) {
    if (!compressed_) return absl::OkStatus();
    return collector_.CheckArchiveRatio(name, stream_bytes_, source_.consumed_bytes());
  }

  // Reads `size` bytes of entry data and the padding to the next block; each chunk goes to
  // `sink` (nullptr: skipped). InvalidArgument when the archive ends first.
  template <typename Sink>
  absl::Status ReadData(std::string_view name, int64_t size, Sink&& sink) {
    std::array<char, kChunkBytes> buffer;
    const int64_t padded = (size + static_cast<int64_t>(kBlockBytes) - 1) /
                           static_cast<int64_t>(kBlockBytes) * static_cast<int64_t>(kBlockBytes);
    int64_t done = 0;
    while (done < padded) {
      const size_t want = static_cast<size_t>(std::min<int64_t>(padded - done, buffer.size()));
      EASEL_ASSIGN_OR_RETURN(const size_t n, ReadFully(source_, buffer.data(), want));
      stream_bytes_ += static_cast<int64_t>(n);
      if (n < want) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the tar archive is truncated in the middle of entry ", QuoteEntryName(name)));
      }
      const int64_t payload = std::min<int64_t>(static_cast<int64_t>(n), size - done);
      if (payload > 0) {
        EASEL_RETURN_IF_ERROR(sink(std::string_view(buffer.data(), static_cast<size_t>(payload))));
      }
      done += static_cast<int64_t>(n);
      EASEL_RETURN_IF_ERROR(CheckRatio(name));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> ReadExtension(std::string_view header_path, int64_t size) {
    if (size > kMaxExtensionBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the tar archive has an extended header (", QuoteEntryName(header_path), ") of ", size,
          " bytes; the limit is ", kMaxExtensionBytes));
    }
    std::string data;
    EASEL_RETURN_IF_ERROR(ReadData(header_path, size, [&](std::string_view chunk) {
      data.append(chunk);
      return collector_.AddSkippedBytes(header_path, static_cast<int64_t>(chunk.size()));
    }));
    return data;
  }

  absl::Status Skip(std::string_view name, int64_t size) {
    return ReadData(name, size, [&](std::string_view chunk) {
      return collector_.AddSkippedBytes(name, static_cast<int64_t>(chunk.size()));
    });
  }

  absl::Status ReadEntry(const std::string& raw_name, char type, int64_t size, bool sparse) {
    switch (type) {
      case '0': case '\0': case '7':  // regular (and contiguous) files
        if (sparse) return Refuse(raw_name, "is a sparse file; sparse files are not supported");
        return ReadFile(raw_name, size);
      case '5': case 'D':  // directory; GNU dumpdir
        EASEL_RETURN_IF_ERROR(collector_.Admit(raw_name, /*is_directory=*/true).status());
        return Skip(raw_name, size);
      case '1': return Refuse(raw_name, "is a hard link; links are not allowed");
      case '2': return Refuse(raw_name, "is a symlink; symlinks are not allowed");
      case '3': case '4':
        return Refuse(raw_name, "is a device file; only regular files are allowed");
      case '6': return Refuse(raw_name, "is a FIFO; only regular files are allowed");
      case 'S': return Refuse(raw_name, "is a sparse file; sparse files are not supported");
      case 'V':  // GNU volume label: not a file
        collector_.Ignore(IsValidUtf8(raw_name) ? raw_name : QuoteEntryName(raw_name),
                          "tar volume label");
        return Skip(raw_name, size);
      case 'M': case 'N':
        return Refuse(raw_name, "belongs to a multi-volume tar; upload a single archive");
      default:
        return Refuse(raw_name, absl::StrCat("has an unsupported tar entry type '",
                                             QuoteEntryName(std::string(1, type)), "'"));
    }
  }

  absl::Status ReadFile(const std::string& raw_name, int64_t size) {
    EASEL_ASSIGN_OR_RETURN(std::optional<std::string> name,
                           collector_.Admit(raw_name, /*is_directory=*/false));
    if (!name) return Skip(raw_name, size);
    const int64_t max_file_bytes = collector_.limits().max_file_bytes;
    if (size > max_file_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat("archive entry ", QuoteEntryName(*name),
                                                       " is ", size, " bytes, more than ",
                                                       max_file_bytes, ", the limit per file"));
    }
    std::string data;
    EASEL_RETURN_IF_ERROR(ReadData(*name, size, [&](std::string_view chunk) {
      data.append(chunk);
      return collector_.AddInflatedBytes(*name, static_cast<int64_t>(chunk.size()),
                                         static_cast<int64_t>(data.size()),
                                         /*entry_compressed_bytes=*/-1);
    }));
    collector_.AddFile(std::move(*name), std::move(data));
    return absl::OkStatus();
  }

  ByteSource& source_;
  ArchiveCollector collector_;
  const bool compressed_;
  int64_t stream_bytes_ = 0;  // tar bytes read (inflated, for a compressed archive)
  std::optional<std::string> last_entry_;
};

}  // namespace

absl::StatusOr<ArchiveContents> ReadTarArchive(ByteSource& source, const ArchiveLimits& limits,
                                               bool compressed) {
  try {
    return TarReader(source, limits, compressed).Read();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading a tar archive: ", e.what()));
  }
}

}  // namespace easel::preprocess
