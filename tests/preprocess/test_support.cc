#include "tests/preprocess/test_support.h"

#include <zip.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "common/ids.h"

namespace easel::preprocess::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "test support: " << what << std::endl;
  std::abort();
}

}  // namespace

cv::Mat SolidImage(int width, int height, const cv::Scalar& bgr) {
  return cv::Mat(height, width, CV_8UC3, bgr);
}

std::string Encode(const cv::Mat& image, const std::string& extension) {
  std::vector<uchar> bytes;
  if (!cv::imencode(extension, image, bytes)) Die("cannot encode " + extension);
  return std::string(bytes.begin(), bytes.end());
}

void WriteZip(const std::filesystem::path& path, const std::vector<ZipEntrySpec>& entries) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (archive == nullptr) Die("zip_open failed for " + path.string());
  for (const ZipEntrySpec& entry : entries) {
    zip_int64_t index = 0;
    if (entry.directory) {
      index = zip_dir_add(archive, entry.name.c_str(), ZIP_FL_ENC_UTF_8);
    } else {
      // The data lives in `entries` until zip_close, so libzip need not copy it.
      zip_source_t* source = zip_source_buffer(archive, entry.data.data(), entry.data.size(), 0);
      if (source == nullptr) Die("zip_source_buffer failed");
      index = zip_file_add(archive, entry.name.c_str(), source, ZIP_FL_ENC_UTF_8);
      if (index < 0) zip_source_free(source);
    }
    if (index < 0) Die("cannot add " + entry.name + ": " + zip_strerror(archive));
    const auto i = static_cast<zip_uint64_t>(index);
    if (entry.unix_mode &&
        zip_file_set_external_attributes(archive, i, 0, ZIP_OPSYS_UNIX, *entry.unix_mode << 16) !=
            0) {
      Die("cannot set attributes of " + entry.name);
    }
    if (entry.encrypt && zip_file_set_encryption(archive, i, ZIP_EM_AES_256, "secret") != 0) {
      Die("cannot encrypt " + entry.name + ": " + zip_strerror(archive));
    }
  }
  if (zip_close(archive) != 0) Die("zip_close failed: " + std::string(zip_strerror(archive)));
}

namespace {

void PutLittleEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

std::string Deflate(const std::string& data, int window_bits, int level) {
  z_stream stream{};
  if (deflateInit2(&stream, level, Z_DEFLATED, window_bits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    Die("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) Die("deflate failed");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

std::string RawDeflate(const std::string& data) { return Deflate(data, -15, Z_BEST_COMPRESSION); }
std::string Gzip(const std::string& data, int level) { return Deflate(data, 15 + 16, level); }

size_t RawZipBuilder::AddFile(const std::string& name, const std::string& data,
                              const FileOptions& options) {
  const std::string stored = options.deflate ? RawDeflate(data) : data;
  Record record{.name = name,
                .method = static_cast<uint16_t>(options.deflate ? 8 : 0),
                .flags = options.flags,
                .crc = options.crc.value_or(static_cast<uint32_t>(
                    crc32(0, reinterpret_cast<const Bytef*>(data.data()), data.size()))),
                .compressed_size = static_cast<uint32_t>(stored.size()),
                .size = static_cast<uint32_t>(data.size()),
                .offset = static_cast<uint32_t>(local_.size()),
                .unix_mode = options.unix_mode};
  local_ += std::string("PK\x03\x04", 4);
  PutLittleEndian(local_, 20, 2);  // version needed
  PutLittleEndian(local_, record.flags, 2);
  PutLittleEndian(local_, record.method, 2);
  PutLittleEndian(local_, 0, 4);  // time, date
  PutLittleEndian(local_, record.crc, 4);
  PutLittleEndian(local_, record.compressed_size, 4);
  PutLittleEndian(local_, record.size, 4);
  PutLittleEndian(local_, name.size(), 2);
  PutLittleEndian(local_, 0, 2);  // extra field length
  local_ += name;
  local_ += stored;
  records_.push_back(record);
  return records_.size() - 1;
}

void RawZipBuilder::AddAlias(const std::string& name, size_t index) {
  Record record = records_.at(index);
  record.name = name;
  records_.push_back(record);
}

std::string RawZipBuilder::Finish() const {
  std::string central;
  for (const Record& record : records_) {
    central += std::string("PK\x01\x02", 4);
    PutLittleEndian(central, record.unix_mode ? (3 << 8) | 20 : 20, 2);  // version made by
    PutLittleEndian(central, 20, 2);                                      // version needed
    PutLittleEndian(central, record.flags, 2);
    PutLittleEndian(central, record.method, 2);
    PutLittleEndian(central, 0, 4);  // time, date
    PutLittleEndian(central, record.crc, 4);
    PutLittleEndian(central, record.compressed_size, 4);
    PutLittleEndian(central, record.size, 4);
    PutLittleEndian(central, record.name.size(), 2);
    PutLittleEndian(central, 0, 2);  // extra field length
    PutLittleEndian(central, 0, 2);  // comment length
    PutLittleEndian(central, 0, 2);  // disk number
    PutLittleEndian(central, 0, 2);  // internal attributes
    PutLittleEndian(central, record.unix_mode ? uint64_t{*record.unix_mode} << 16 : 0, 4);
    PutLittleEndian(central, record.offset, 4);
    central += record.name;
  }
  if (records_.size() > 0xFFFF) Die("RawZipBuilder writes no zip64");
  std::string out = local_ + central;
  out += std::string("PK\x05\x06", 4);
  PutLittleEndian(out, 0, 4);  // disk numbers
  PutLittleEndian(out, records_.size(), 2);
  PutLittleEndian(out, records_.size(), 2);
  PutLittleEndian(out, central.size(), 4);
  PutLittleEndian(out, local_.size(), 4);
  PutLittleEndian(out, 0, 2);  // comment length
  return out;
}

namespace {

constexpr size_t kTarBlock = 512;

void PutField(std::string& block, size_t offset, size_t length, const std::string& value) {
  if (value.size() > length) Die("tar field too long: " + value);
  block.replace(offset, value.size(), value);
}

std::string Octal(uint64_t value, size_t digits) {
  std::string text(digits, '0');
  for (size_t i = digits; i-- > 0; value >>= 3) text[i] = static_cast<char>('0' + (value & 7));
  if (value != 0) Die("tar number too large");
  return text;
}

void PadToBlock(std::string& bytes) {
  bytes.append((kTarBlock - bytes.size() % kTarBlock) % kTarBlock, '\0');
}

}  // namespace

TarBuilder& TarBuilder::Add(const TarEntrySpec& entry) {
  std::string block(kTarBlock, '\0');
  PutField(block, 0, 100, entry.name);
  PutField(block, 100, 8, Octal(entry.mode, 7));
  PutField(block, 108, 8, Octal(1000, 7));
  PutField(block, 116, 8, Octal(1000, 7));
  const uint64_t size = entry.size ? static_cast<uint64_t>(*entry.size) : entry.data.size();
  if (entry.base256_size) {
    block[124] = static_cast<char>(0x80);
    for (int i = 0; i < 8; ++i) block[135 - i] = static_cast<char>((size >> (8 * i)) & 0xFF);
  } else {
    PutField(block, 124, 12, Octal(size, 11));
  }
  PutField(block, 136, 12, Octal(0, 11));
  block[156] = entry.type;
  PutField(block, 157, 100, entry.link);
  if (entry.gnu) {
    PutField(block, 257, 8, std::string("ustar  \0", 8));
  } else {
    PutField(block, 257, 8, std::string("ustar\0" "00", 8));
  }
  PutField(block, 265, 32, "user");
  PutField(block, 297, 32, "group");
  PutField(block, 345, 155, entry.prefix);
  block.replace(148, 8, 8, ' ');
  unsigned sum = 0;
  for (const char c : block) sum += static_cast<unsigned char>(c);
  if (entry.bad_checksum) sum += 1;
  PutField(block, 148, 8, Octal(sum, 6) + std::string("\0 ", 2));
  bytes_ += block;
  bytes_ += entry.data;
  PadToBlock(bytes_);
  return *this;
}

TarBuilder& TarBuilder::AddPax(const std::vector<std::pair<std::string, std::string>>& records,
                               char type) {
  std::string data;
  for (const auto& [key, value] : records) {
    const std::string body = " " + key + "=" + value + "\n";
    size_t length = body.size() + 1;
    while (std::to_string(length).size() + body.size() != length) ++length;
    data += std::to_string(length) + body;
  }
  return Add({.name = "PaxHeaders/entry", .data = data, .type = type});
}

TarBuilder& TarBuilder::AddGnuLongName(const std::string& name) {
  return Add({.name = "././@LongLink", .data = name + std::string(1, '\0'), .type = 'L',
              .gnu = true});
}

std::string TarBuilder::Finish(bool end_marker) const {
  std::string out = bytes_;
  if (end_marker) out.append(2 * kTarBlock, '\0');
  return out;
}

ScopedTempDir::ScopedTempDir() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  path_ = std::filesystem::path(::testing::TempDir()) /
          ("easel_preprocess_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
           NewId(8));
  std::filesystem::create_directories(path_);
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFileBytes(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

}  // namespace easel::preprocess::testing
