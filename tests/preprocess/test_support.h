#ifndef EASEL_TESTS_PREPROCESS_TEST_SUPPORT_H_
#define EASEL_TESTS_PREPROCESS_TEST_SUPPORT_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace easel::preprocess::testing {

// A width x height image of one BGR colour.
cv::Mat SolidImage(int width, int height, const cv::Scalar& bgr);

// `image` encoded in memory; `extension` is ".jpg", ".png" or ".webp".
std::string Encode(const cv::Mat& image, const std::string& extension);

struct ZipEntrySpec {
  std::string name;
  std::string data;
  std::optional<uint32_t> unix_mode;  // e.g. 0120777 for a symlink
  bool encrypt = false;
  bool directory = false;
};

// Writes a zip with libzip (zip_source_buffer); aborts the test binary on a libzip failure.
void WriteZip(const std::filesystem::path& path, const std::vector<ZipEntrySpec>& entries);

// Zip bytes laid out by hand, for archives libzip will not write: several central-directory
// records pointing at one local entry, traditional encryption flags, tens of thousands of
// entries.
class RawZipBuilder {
 public:
  struct FileOptions {
    bool deflate = false;
    uint16_t flags = 0;                 // general purpose bit flag (bit 0: encrypted)
    std::optional<uint32_t> unix_mode;  // recorded as made by Unix when set
    std::optional<uint32_t> crc;        // a wrong CRC-32, when set
  };
  // Appends a local header and data, and a central-directory record for it; returns the
  // record's index.
  size_t AddFile(const std::string& name, const std::string& data, const FileOptions& options);
  size_t AddFile(const std::string& name, const std::string& data) {
    return AddFile(name, data, FileOptions{});
  }
  // Another central-directory record, named `name`, for the local entry of record `index`.
  void AddAlias(const std::string& name, size_t index);
  // The local entries, the central directory and the end-of-central-directory record.
  std::string Finish() const;

 private:
  struct Record {
    std::string name;
    uint16_t method;
    uint16_t flags;
    uint32_t crc;
    uint32_t compressed_size;
    uint32_t size;
    uint32_t offset;
    std::optional<uint32_t> unix_mode;
  };
  std::string local_;
  std::vector<Record> records_;
};

// Raw deflate (no zlib or gzip wrapper) of `data`, best compression.
std::string RawDeflate(const std::string& data);
// `data` as a gzip file, compressed at zlib `level` (1 fastest .. 9 smallest).
std::string Gzip(const std::string& data, int level = 9);

struct TarEntrySpec {
  std::string name;
  std::string data;
  char type = '0';
  std::string link;               // link target, for types '1' and '2'
  uint32_t mode = 0644;
  std::string prefix;             // the ustar prefix field
  bool gnu = false;               // GNU magic ("ustar  ") instead of POSIX ("ustar\0" "00")
  std::optional<int64_t> size;    // the size field, when it should not be data.size()
  bool base256_size = false;      // the size in GNU base-256
  bool bad_checksum = false;
};

// A tar archive laid out by hand: ustar headers, pax and GNU extension headers.
class TarBuilder {
 public:
  TarBuilder& Add(const TarEntrySpec& entry);
  // A pax extended header ('x') with "<length> <key>=<value>\n" records, for the next entry.
  TarBuilder& AddPax(const std::vector<std::pair<std::string, std::string>>& records,
                     char type = 'x');
  // A GNU long-name header ('L') for the next entry.
  TarBuilder& AddGnuLongName(const std::string& name);
  // The archive, with its two zero blocks at the end when `end_marker`.
  std::string Finish(bool end_marker = true) const;

 private:
  std::string bytes_;
};

// A fresh empty directory for the running test, removed with everything in it on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string ReadFileBytes(const std::filesystem::path& path);
void WriteFileBytes(const std::filesystem::path& path, const std::string& data);

}  // namespace easel::preprocess::testing

#endif  // EASEL_TESTS_PREPROCESS_TEST_SUPPORT_H_
