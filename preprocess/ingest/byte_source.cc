#include "preprocess/ingest/byte_source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace easel::preprocess {
namespace {

constexpr size_t kInputBufferBytes = 64 * 1024;
constexpr int kGzipOnlyWindowBits = 15 + 16;  // 32 KiB window, gzip header and trailer

}  // namespace

absl::StatusOr<size_t> ReadFully(ByteSource& source, char* buffer, size_t size) {
  size_t filled = 0;
  while (filled < size) {
    EASEL_ASSIGN_OR_RETURN(const size_t n, source.Read(buffer + filled, size - filled));
    if (n == 0) break;
    filled += n;
  }
  return filled;
}

absl::StatusOr<size_t> MemoryByteSource::Read(char* buffer, size_t size) {
  const size_t n = std::min(size, bytes_.size() - position_);
  std::memcpy(buffer, bytes_.data() + position_, n);
  position_ += n;
  return n;
}

absl::StatusOr<std::unique_ptr<FileByteSource>> FileByteSource::Open(
    const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot open archive ", path.string(), ": ", std::strerror(errno)));
  }
  return std::unique_ptr<FileByteSource>(new FileByteSource(file, path));
}

FileByteSource::~FileByteSource() { std::fclose(file_); }

absl::StatusOr<size_t> FileByteSource::Read(char* buffer, size_t size) {
  const size_t n = std::fread(buffer, 1, size, file_);
  if (n < size && std::ferror(file_)) {
    return absl::InternalError(
        absl::StrCat("reading ", path_.string(), ": ", std::strerror(errno)));
  }
  consumed_ += static_cast<int64_t>(n);
  return n;
}

GzipByteSource::GzipByteSource(ByteSource& compressed)
    : compressed_(compressed), input_(kInputBufferBytes) {}

GzipByteSource::~GzipByteSource() {
  if (initialized_) inflateEnd(&stream_);
}

absl::StatusOr<bool> GzipByteSource::FillInput() {
  if (stream_.avail_in > 0) return true;
  EASEL_ASSIGN_OR_RETURN(const size_t n,
                         compressed_.Read(reinterpret_cast<char*>(input_.data()), input_.size()));
  stream_.next_in = input_.data();
  stream_.avail_in = static_cast<uInt>(n);
  return n > 0;
}

absl::StatusOr<size_t> GzipByteSource::Read(char* buffer, size_t size) {
  if (!initialized_) {
    if (inflateInit2(&stream_, kGzipOnlyWindowBits) != Z_OK) {
      return absl::InternalError("cannot start a gzip decompressor");
    }
    initialized_ = true;
  }
  size_t produced = 0;
  while (produced == 0 && size > 0 && !finished_) {
    EASEL_ASSIGN_OR_RETURN(const bool have_input, FillInput());
    if (member_ended_) {
      // Another member follows only if the next bytes start one; anything else is trailing
      // garbage, ignored.
      if (!have_input || stream_.next_in[0] != 0x1F) {
        finished_ = true;
        break;
      }
      if (inflateReset(&stream_) != Z_OK) return absl::InternalError("inflateReset failed");
      member_ended_ = false;
    }
    if (!have_input) {
      return absl::InvalidArgumentError("the gzip data is truncated");
    }
    stream_.next_out = reinterpret_cast<Bytef*>(buffer);
    stream_.avail_out = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    const uInt before = stream_.avail_out;
    const int result = inflate(&stream_, Z_NO_FLUSH);
    produced = before - stream_.avail_out;
    switch (result) {
      case Z_OK:
        break;
      case Z_STREAM_END:
        member_ended_ = true;
        break;
      case Z_BUF_ERROR:  // no progress possible: loop to refill the input
        break;
      case Z_MEM_ERROR:
        return absl::ResourceExhaustedError("out of memory while inflating gzip data");
      default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
        return absl::InvalidArgumentError(absl::StrCat(
            "the gzip data is damaged: ", stream_.msg != nullptr ? stream_.msg : "inflate failed"));
    }
  }
  return produced;
}

}  // namespace easel::preprocess
