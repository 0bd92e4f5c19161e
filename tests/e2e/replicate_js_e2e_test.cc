// Replicate's official JavaScript client (npm package `replicate`, installed from the npm
// registry by this test) drives the coordinator's HTTP API unmodified: files.create,
// trainings.create/get/list/cancel, models.versions.get and validateWebhook
// (tests/e2e/replicate_js/replicate_client_test.mjs holds the client side).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/dataset_zip.h"

namespace easel::testing {
namespace {

class ReplicateJsE2eTest : public E2eFixture {};

TEST_F(ReplicateJsE2eTest, TheOfficialClientTrainsListsCancelsAndValidatesWebhooks) {
  ASSERT_FALSE(http_url_.empty());
  const std::filesystem::path client = dir_ / "replicate_js";
  std::filesystem::create_directories(client);
  for (const char* name : {"package.json", "package-lock.json", "replicate_client_test.mjs"}) {
    std::filesystem::copy_file(std::filesystem::path(EASEL_REPLICATE_JS_DIR) / name, client / name);
  }
  CommandResult installed = RunCommand(
      {"/usr/bin/env", "npm", "ci", "--no-audit", "--no-fund", "--prefix", client.string()});
  ASSERT_EQ(installed.exit_code, 0) << "npm ci (needs the npm registry) failed:\n"
                                    << installed.stdout_text << installed.stderr_text;

  ASSERT_TRUE(CreateModel("alice", "js-lora").ok());
  const std::string alice = CreateToken(v1::USER, {"alice"});
  const std::filesystem::path zip = dir_ / "js-photos.zip";
  std::ofstream(zip, std::ios::binary) << ZipBytes(ExampleDatasetEntries());

  setenv("EASEL_BASE_URL", (http_url_ + "/v1").c_str(), 1);
  setenv("EASEL_API_TOKEN", alice.c_str(), 1);
  setenv("EASEL_DATASET_ZIP", zip.c_str(), 1);
  setenv("EASEL_BASE_MODEL", "easel/tiny", 1);
  setenv("EASEL_BASE_VERSION", base_version_id_.c_str(), 1);
  setenv("EASEL_DESTINATION", "alice/js-lora", 1);
  setenv("EASEL_TRAIN_INPUT",
         nlohmann::json{{"max_train_steps", 6}, {"lora_rank", 4}}.dump().c_str(), 1);
  CommandResult run =
      RunCommand({"/usr/bin/env", "node", (client / "replicate_client_test.mjs").string()});
  setenv("EASEL_API_TOKEN", admin_token_.c_str(), 1);
  std::printf("%s", run.stdout_text.c_str());  // the client's steps, one "ok ..." line each
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_NE(run.stdout_text.find("PASS"), std::string::npos) << run.stdout_text;
}

}  // namespace
}  // namespace easel::testing
