#ifndef EASEL_PREPROCESS_INGEST_BYTE_SOURCE_H_
#define EASEL_PREPROCESS_INGEST_BYTE_SOURCE_H_

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include <zlib.h>

#include "absl/status/statusor.h"

namespace easel::preprocess {

// A stream of bytes the tar reader pulls from: a file, memory, or a gzip decompressor over
// either.
class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Reads up to `size` bytes into `buffer` and returns how many; 0 only at the end of the
  // data. InvalidArgument when compressed data is damaged or cut short; Internal on an I/O
  // error.
  virtual absl::StatusOr<size_t> Read(char* buffer, size_t size) = 0;

  // Bytes taken from the file or memory underneath so far: for a decompressor the compressed
  // bytes consumed, otherwise the bytes returned.
  virtual int64_t consumed_bytes() const = 0;
};

// Fills `buffer` with `size` bytes unless the data ends first; returns the count read.
absl::StatusOr<size_t> ReadFully(ByteSource& source, char* buffer, size_t size);

class MemoryByteSource : public ByteSource {
 public:
  explicit MemoryByteSource(std::string_view bytes) : bytes_(bytes) {}
  absl::StatusOr<size_t> Read(char* buffer, size_t size) override;
  int64_t consumed_bytes() const override { return static_cast<int64_t>(position_); }

 private:
  std::string_view bytes_;
  size_t position_ = 0;
};

class FileByteSource : public ByteSource {
 public:
  // NotFound when `path` cannot be opened.
  static absl::StatusOr<std::unique_ptr<FileByteSource>> Open(const std::filesystem::path& path);
  ~FileByteSource() override;
  FileByteSource(const FileByteSource&) = delete;
  FileByteSource& operator=(const FileByteSource&) = delete;

  absl::StatusOr<size_t> Read(char* buffer, size_t size) override;
  int64_t consumed_bytes() const override { return consumed_; }

 private:
  FileByteSource(std::FILE* file, std::filesystem::path path)
      : file_(file), path_(std::move(path)) {}

  std::FILE* file_;
  std::filesystem::path path_;
  int64_t consumed_ = 0;
};

// Inflates gzip data (RFC 1952; concatenated members are read as one stream, bytes after the
// last member that do not start another are ignored, as gzip(1) does).
class GzipByteSource : public ByteSource {
 public:
  // `compressed` must outlive this object.
  explicit GzipByteSource(ByteSource& compressed);
  ~GzipByteSource() override;
  GzipByteSource(const GzipByteSource&) = delete;
  GzipByteSource& operator=(const GzipByteSource&) = delete;

  absl::StatusOr<size_t> Read(char* buffer, size_t size) override;
  int64_t consumed_bytes() const override {
    return compressed_.consumed_bytes() - static_cast<int64_t>(stream_.avail_in);
  }

 private:
  // Refills the input buffer when it is empty; false at the end of the compressed data.
  absl::StatusOr<bool> FillInput();

  ByteSource& compressed_;
  z_stream stream_{};
  bool initialized_ = false;
  bool member_ended_ = false;
  bool finished_ = false;
  std::vector<unsigned char> input_;
};

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_INGEST_BYTE_SOURCE_H_
