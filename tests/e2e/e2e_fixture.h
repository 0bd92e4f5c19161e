#ifndef EASEL_TESTS_E2E_E2E_FIXTURE_H_
#define EASEL_TESTS_E2E_E2E_FIXTURE_H_

// The fixture of the end-to-end tests: once per test suite, a coordinator on loopback (its
// data dir under a fresh temporary directory), the tiny base model imported as easel/tiny,
// and one worker running easel-preprocess and easel-trainer; plus the gRPC calls tests make.
// The stubs and the easel commands tests run (EASEL_API_TOKEN) use the admin token; workers
// use a worker token.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "easel/v1/datasets.grpc.pb.h"
#include "easel/v1/models.grpc.pb.h"
#include "easel/v1/tokens.grpc.pb.h"
#include "easel/v1/trainings.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/server_process.h"

namespace easel::testing {

class E2eFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { StartSuite({}); }
  static void TearDownTestSuite();
  // What SetUpTestSuite does, with `coordinator_flags` added to easel-coordinator's; without
  // the worker unless `start_worker`.
  static void StartSuite(const std::vector<std::string>& coordinator_flags,
                         bool start_worker = true);
  // Starts the coordinator again on the same address and data dir (after it was killed) and
  // connects the stubs to it anew.
  static void RestartCoordinator();
  // Another worker, stopped with the suite; nullptr (and a test failure) if it cannot start.
  static ServerProcess* StartWorker(const std::string& name,
                                    const std::string& trainer_bin = EASEL_TRAINER_BIN);
  // Replaces worker_ (after it was killed) with a new worker process.
  static void RestartWorker();
  // The pids of every worker process of the suite.
  static std::vector<int> WorkerPids();
  static void Connect();  // the stubs, on a new channel to address_
  // A new token's secret, made with the admin token.
  static std::string CreateToken(v1::TokenRole role, const std::vector<std::string>& owners);
  // Prints the coordinator's and the worker's logs when the test failed.
  void TearDown() override;

  // UploadDataset of `bytes` as `filename`, declaring `declared_sha256`, in two chunks.
  static grpc::Status Upload(const std::string& filename, const std::string& bytes,
                             const std::string& declared_sha256, v1::Dataset* dataset);
  // A zip of `entries` (name -> bytes), written by libzip.
  static std::string ZipBytes(const std::map<std::string, std::string>& entries);
  static grpc::Status CreateModel(const std::string& owner, const std::string& name);
  // `input`'s strings, booleans and numbers become the training's input fields.
  static grpc::Status CreateTraining(const std::string& model, const std::string& destination,
                                     const nlohmann::json& input, v1::Training* training,
                                     const std::string& request_id = "");
  static grpc::Status GetTraining(const std::string& id, v1::Training* training);
  // WatchTraining until the stream ends (the training reached a final status).
  static std::vector<v1::TrainingEvent> WatchToEnd(const std::string& id);
  // The coordinator process is running and answers ListModels.
  static void ExpectServing();

  // The coordinator's --data-dir and the worker's --work-dir, both under dir_.
  static std::filesystem::path DataDir() { return dir_ / "data"; }
  static std::filesystem::path WorkDir() { return dir_ / "work"; }

  static inline std::filesystem::path dir_;  // everything the suite writes lives under it
  static inline std::string address_;
  static inline std::string http_url_;  // the HTTP API's base URL ("http://127.0.0.1:PORT")
  static inline std::string base_version_id_;
  static inline std::string admin_token_;
  static inline std::filesystem::path worker_token_file_;
  static inline ServerProcess* coordinator_ = nullptr;
  static inline ServerProcess* worker_ = nullptr;
  static inline std::shared_ptr<grpc::Channel> channel_;  // of the stubs
  static inline std::vector<ServerProcess*> other_workers_;
  static inline std::vector<std::string> coordinator_flags_;
  static inline int coordinator_starts_ = 0;
  static inline v1::DatasetService::Stub* datasets_ = nullptr;
  static inline v1::ModelService::Stub* models_ = nullptr;
  static inline v1::TrainingService::Stub* trainings_ = nullptr;
  static inline v1::TokenService::Stub* tokens_ = nullptr;
};

}  // namespace easel::testing

#endif  // EASEL_TESTS_E2E_E2E_FIXTURE_H_
