#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "coordinator/blobs/blob_store.h"
#include "coordinator/scheduler/training_store.h"
#include "coordinator/store/database.h"
#include "coordinator/store/migrations.h"
#include "coordinator/store/page_token.h"
#include "gtest/gtest.h"
#include "tests/coordinator/coordinator_fixture.h"

namespace easel::coordinator {
namespace {

TEST(DatabaseTest, MigrationsAreIdempotentAcrossReopen) {
  std::filesystem::path dir = testing::MakeTempDir();
  for (int open = 0; open < 3; ++open) {
    auto database = Database::Open(dir / "easel.db");
    ASSERT_TRUE(database.ok()) << database.status();
    ASSERT_TRUE((*database)
                    ->Read([&](Connection& connection) -> absl::Status {
                      auto version = CurrentSchemaVersion(connection);
                      EXPECT_TRUE(version.ok());
                      EXPECT_EQ(*version, LatestSchemaVersion());
                      auto rows = connection.Query("SELECT COUNT(*) FROM schema_migrations");
                      EXPECT_TRUE(rows.ok());
                      EXPECT_TRUE(*rows->Step());
                      EXPECT_EQ(rows->Int(0), LatestSchemaVersion());
                      return absl::OkStatus();
                    })
                    .ok());
    if (open == 0) {
      ASSERT_TRUE((*database)
                      ->Transact([](Connection& connection) {
                        return connection
                            .Execute("INSERT INTO models (owner, name, create_us) "
                                     "VALUES ('a', 'b', 1)")
                            .status();
                      })
                      .ok());
    }
    ASSERT_TRUE((*database)
                    ->Read([](Connection& connection) -> absl::Status {
                      auto rows = connection.Query("SELECT COUNT(*) FROM models");
                      EXPECT_TRUE(*rows->Step());
                      EXPECT_EQ(rows->Int(0), 1);
                      return absl::OkStatus();
                    })
                    .ok());
  }
  std::filesystem::remove_all(dir);
}

TEST(DatabaseTest, FailedTransactionRollsBack) {
  std::filesystem::path dir = testing::MakeTempDir();
  auto database = Database::Open(dir / "easel.db");
  ASSERT_TRUE(database.ok());
  absl::Status status = (*database)->Transact([](Connection& connection) -> absl::Status {
    EXPECT_TRUE(connection.Execute("INSERT INTO models (owner, name, create_us) VALUES ('a','b',1)")
                    .ok());
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  ASSERT_TRUE((*database)
                  ->Read([](Connection& connection) -> absl::Status {
                    auto rows = connection.Query("SELECT COUNT(*) FROM models");
                    EXPECT_TRUE(*rows->Step());
                    EXPECT_EQ(rows->Int(0), 0);
                    return absl::OkStatus();
                  })
                  .ok());
  std::filesystem::remove_all(dir);
}

// Statements are reused: the same SQL runs again with new parameters, a statement left half
// read is reset, and the same SQL runs nested while an earlier use is still open.
TEST(DatabaseTest, ReusedStatementsSeeTheirOwnParametersAndNest) {
  std::filesystem::path dir = testing::MakeTempDir();
  auto database = Database::Open(dir / "easel.db");
  ASSERT_TRUE(database.ok());
  constexpr char kInsert[] = "INSERT INTO models (owner, name, create_us) VALUES (?, ?, ?)";
  constexpr char kSelect[] = "SELECT name FROM models WHERE owner = ? ORDER BY name";
  ASSERT_TRUE((*database)
                  ->Transact([&](Connection& connection) -> absl::Status {
                    for (int i = 0; i < 3; ++i) {
                      std::string name = "m" + std::to_string(i);
                      EXPECT_TRUE(connection.Execute(kInsert, {std::string("a"), name, int64_t{i}}).ok());
                      EXPECT_TRUE(connection.Execute(kInsert, {std::string("b"), name, int64_t{i}}).ok());
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE((*database)
                    ->Read([&](Connection& connection) -> absl::Status {
                      auto half_read = connection.Query(kSelect, {std::string("a")});
                      EXPECT_TRUE(*half_read->Step());
                      EXPECT_EQ(half_read->Text(0), "m0");
                      auto outer = connection.Query(kSelect, {std::string("b")});  // same SQL, still open
                      std::vector<std::string> names;
                      while (*outer->Step()) names.push_back(outer->Text(0));
                      EXPECT_EQ(names, (std::vector<std::string>{"m0", "m1", "m2"}));
                      return absl::OkStatus();
                    })
                    .ok());
  }
  auto failed = (*database)->Transact([&](Connection& connection) -> absl::Status {
    EXPECT_TRUE(connection.Execute(kInsert, {std::string("c"), std::string("x"), int64_t{1}}).ok());
    return connection.Execute(kInsert, {std::string("c"), std::string("x"), int64_t{2}}).status();  // UNIQUE (owner, name)
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE((*database)
                  ->Read([&](Connection& connection) -> absl::Status {
                    auto rows = connection.Query("SELECT COUNT(*) FROM models WHERE owner = ?",
                                                 {std::string("c")});
                    EXPECT_TRUE(*rows->Step());
                    EXPECT_EQ(rows->Int(0), 0);  // rolled back
                    return absl::OkStatus();
                  })
                  .ok());
  std::filesystem::remove_all(dir);
}

// A store made by the first schema, holding a training with a queued task and its dataset,
// opens under the latest one: every migration applies to it, the backfills derive what they
// should, and the training loads.
TEST(DatabaseTest, UpgradesAStoreOfTheFirstSchemaKeepingItsData) {
  std::filesystem::path dir = testing::MakeTempDir();
  const std::string sha256(64, 'a');
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "easel.db").c_str(), &db), SQLITE_OK);
    Connection connection(db);
    ASSERT_TRUE(ApplyMigrationsUpTo(connection, 1).ok());
    ASSERT_TRUE(connection
                    .ExecScript("INSERT INTO models (owner, name, create_us) VALUES ('alice', "
                                "'faces', 1);"
                                "INSERT INTO datasets (sha256, size_bytes, filename, create_us) "
                                "VALUES ('" + sha256 + "', 10, 'p.zip', 1);"
                                "INSERT INTO trainings (id, model, version_id, destination, "
                                "input_json, dataset_sha256, base_model_dir, status, create_us) "
                                "VALUES ('t1', 'acme/sd', 'v1', 'alice/faces', "
                                "'{\"max_train_steps\": 5}', '" + sha256 + "', '/base', 2, 1);"
                                "INSERT INTO tasks (id, training_id, kind, state, create_us) "
                                "VALUES ('k1', 't1', 1, 'queued', 1);")
                    .ok());
    ASSERT_EQ(sqlite3_close(db), SQLITE_OK);
  }
  auto database = Database::Open(dir / "easel.db");
  ASSERT_TRUE(database.ok()) << database.status();
  ASSERT_TRUE((*database)
                  ->Read([&](Connection& connection) -> absl::Status {
                    EXPECT_EQ(*CurrentSchemaVersion(connection), LatestSchemaVersion());
                    auto task = connection.Query("SELECT kind, owner FROM tasks WHERE id = 'k1'");
                    EXPECT_TRUE(*task->Step());
                    EXPECT_EQ(task->Int(0), 2);  // migration 3: a queued TRAIN preprocesses first
                    EXPECT_EQ(task->Text(1), "alice");  // migration 6
                    auto grant = connection.Query(
                        "SELECT owner FROM dataset_grants WHERE sha256 = ?", {sha256});
                    EXPECT_TRUE(*grant->Step());
                    EXPECT_EQ(grant->Text(0), "alice");  // migration 7
                    auto training = TrainingStore::LoadTraining(connection, "t1");
                    EXPECT_TRUE(training.ok()) << training.status();
                    EXPECT_EQ(training->input().fields().at("max_train_steps").number_value(), 5);
                    EXPECT_TRUE(training->webhook().empty());
                    EXPECT_EQ(training->checkpoint_step(), 0);
                    return absl::OkStatus();
                  })
                  .ok());
  std::filesystem::remove_all(dir);
}

TEST(BlobStoreTest, PutGetVerify) {
  std::filesystem::path dir = testing::MakeTempDir();
  auto blobs = BlobStore::Open(dir);
  ASSERT_TRUE(blobs.ok());
  auto digest = (*blobs)->Put("hello blobs");
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, Sha256Hex("hello blobs"));
  std::filesystem::path path = (*blobs)->PathFor(*digest);
  EXPECT_EQ(path.parent_path().filename().string(), digest->substr(0, 2));
  EXPECT_TRUE((*blobs)->Contains(*digest));
  EXPECT_EQ(*(*blobs)->Size(*digest), 11);
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "hello blobs");
  EXPECT_TRUE((*blobs)->Verify(*digest).ok());

  std::ofstream(path, std::ios::binary | std::ios::trunc) << "tampered";
  EXPECT_EQ((*blobs)->Verify(*digest).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*blobs)->Size(Sha256Hex("missing")).status().code(), absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(BlobStoreTest, PutFileRejectsWrongDigestAndRemovesTheTempFile) {
  std::filesystem::path dir = testing::MakeTempDir();
  auto blobs = BlobStore::Open(dir);
  ASSERT_TRUE(blobs.ok());
  std::filesystem::path temp = (*blobs)->NewTempPath();
  std::ofstream(temp, std::ios::binary) << "content";
  absl::Status status = (*blobs)->PutFile(temp, Sha256Hex("other"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("checksum mismatch"), absl::string_view::npos);
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_FALSE((*blobs)->Contains(Sha256Hex("other")));
  std::filesystem::remove_all(dir);
}

TEST(PageTokenTest, RoundTripsAndRejectsForeignTokens) {
  EXPECT_EQ(*DecodePageToken(EncodePageToken(42)), 42);
  EXPECT_EQ(*DecodePageToken(""), 0);
  auto bad = DecodePageToken("not-a-token");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("page_token"), absl::string_view::npos);
  EXPECT_EQ(*ClampPageSize(0), 20);
  EXPECT_EQ(*ClampPageSize(1000), 100);
}

}  // namespace
}  // namespace easel::coordinator
