#include <string>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/coordinator_fixture.h"

namespace easel::testing {
namespace {

using ::testing::HasSubstr;

class DatasetServiceTest : public CoordinatorTest {
 protected:
  // Sends the header and chunks at the given offsets, then closes the stream.
  grpc::Status SendChunks(const std::string& upload_id, const std::string& whole,
                          const std::vector<std::pair<int64_t, std::string>>& chunks,
                          v1::Dataset* dataset) {
    grpc::ClientContext context;
    auto writer = datasets_->UploadDataset(&context, dataset);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_upload_id(upload_id);
    header.mutable_header()->set_filename("photos.zip");
    header.mutable_header()->set_size_bytes(static_cast<int64_t>(whole.size()));
    header.mutable_header()->set_sha256(Sha256Hex(whole));
    writer->Write(header);
    for (const auto& [offset, data] : chunks) {
      v1::UploadDatasetRequest chunk;
      chunk.mutable_chunk()->set_offset(offset);
      chunk.mutable_chunk()->set_data(data);
      if (!writer->Write(chunk)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  v1::Upload GetUpload(const std::string& upload_id, grpc::Status* status) {
    grpc::ClientContext context;
    v1::GetUploadRequest request;
    request.set_upload_id(upload_id);
    v1::Upload upload;
    *status = datasets_->GetUpload(&context, request, &upload);
    return upload;
  }
};

TEST_F(DatasetServiceTest, UploadInTwoStreamsResumesAtTheCommittedOffset) {
  std::string whole = ZipLikeBytes(5000, 'a');
  std::string first = whole.substr(0, 2000);
  v1::Dataset dataset;
  grpc::Status status = SendChunks("resume-1", whole, {{0, first}}, &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("committed offset 2000"));

  v1::Upload upload = GetUpload("resume-1", &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(upload.committed_offset(), 2000);
  EXPECT_FALSE(upload.complete());

  RestartServer();  // The committed offset lives in the store.

  status = SendChunks("resume-1", whole, {{0, whole}}, &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("committed offset 2000"));

  status = SendChunks("resume-1", whole,
                      {{2000, whole.substr(2000, 1000)}, {3000, whole.substr(3000)}}, &dataset);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(dataset.name(), "datasets/" + Sha256Hex(whole));
  EXPECT_EQ(dataset.size_bytes(), static_cast<int64_t>(whole.size()));

  upload = GetUpload("resume-1", &status);
  EXPECT_TRUE(upload.complete());
  EXPECT_EQ(upload.committed_offset(), static_cast<int64_t>(whole.size()));
}

TEST_F(DatasetServiceTest, SameContentTwiceGivesTheSameDataset) {
  std::string bytes = ZipLikeBytes(300);
  v1::Dataset first, second;
  ASSERT_TRUE(Upload("twice-1", bytes, &first).ok());
  ASSERT_TRUE(Upload("twice-2", bytes, &second).ok());
  EXPECT_EQ(first.name(), second.name());
  grpc::ClientContext context;
  v1::GetDatasetRequest request;
  request.set_name(first.sha256());
  v1::Dataset fetched;
  ASSERT_TRUE(datasets_->GetDataset(&context, request, &fetched).ok());
  EXPECT_EQ(fetched.name(), first.name());
}

TEST_F(DatasetServiceTest, ChecksumMismatchDiscardsTheUpload) {
  std::string bytes = ZipLikeBytes(100);
  std::string claimed = Sha256Hex("something else");
  grpc::ClientContext context;
  v1::Dataset dataset;
  auto writer = datasets_->UploadDataset(&context, &dataset);
  v1::UploadDatasetRequest header;
  header.mutable_header()->set_upload_id("mismatch");
  header.mutable_header()->set_filename("photos.zip");
  header.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
  header.mutable_header()->set_sha256(claimed);
  writer->Write(header);
  v1::UploadDatasetRequest chunk;
  chunk.mutable_chunk()->set_data(bytes);
  writer->Write(chunk);
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "checksum mismatch: expected " + claimed + ", got " + Sha256Hex(bytes));
  GetUpload("mismatch", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(DatasetServiceTest, AcceptsTarAndGzipByTheirMagicBytes) {
  std::string tar(1024, '\0');
  tar.replace(0, 9, "photo.png");
  tar.replace(257, 6, std::string("ustar\0", 6));
  v1::Dataset dataset;
  EXPECT_TRUE(Upload("tar", tar, &dataset, "photos.tar").ok());
  EXPECT_EQ(dataset.sha256(), Sha256Hex(tar));
  const std::string gzip("\x1f\x8b\x08\x00 rest of a gzip stream", 29);
  EXPECT_TRUE(Upload("gzip", gzip, &dataset, "photos.tar.gz").ok());
}

TEST_F(DatasetServiceTest, RejectsAnArchiveThatIsNotAZip) {
  v1::Dataset dataset;
  grpc::Status status = Upload("text", "just some notes, not a zip", &dataset, "notes.txt");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "notes.txt is not a zip or tar archive");
}

TEST_F(DatasetServiceTest, ValidatesTheHeaderAndKeepsServing) {
  v1::Dataset dataset;
  auto send_header = [&](int64_t size, const std::string& sha, const std::string& id) {
    grpc::ClientContext context;
    auto writer = datasets_->UploadDataset(&context, &dataset);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_upload_id(id);
    header.mutable_header()->set_filename("photos.zip");
    header.mutable_header()->set_size_bytes(size);
    header.mutable_header()->set_sha256(sha);
    writer->Write(header);
    writer->WritesDone();
    return writer->Finish();
  };
  std::string sha = Sha256Hex("x");
  grpc::Status status = send_header(10, "ABC", "u1");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("sha256"));
  status = send_header(0, sha, "u2");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("size_bytes"));
  status = send_header(int64_t{3} << 30, sha, "u3");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  status = send_header(10, sha, "../escape");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("upload_id"));

  std::string bytes = ZipLikeBytes(10);
  ASSERT_TRUE(Upload("after-errors", bytes, &dataset).ok());
  EXPECT_EQ(dataset.sha256(), Sha256Hex(bytes));
}

}  // namespace
}  // namespace easel::testing
