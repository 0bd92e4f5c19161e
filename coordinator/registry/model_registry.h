#ifndef EASEL_COORDINATOR_REGISTRY_MODEL_REGISTRY_H_
#define EASEL_COORDINATOR_REGISTRY_MODEL_REGISTRY_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/auth/principal.h"
#include "coordinator/registry/names.h"
#include "coordinator/store/database.h"
#include "easel/v1/models.pb.h"
#include "easel/v1/resources.pb.h"

namespace easel::coordinator {

// Models and their versions (base models and trained weights).
class ModelRegistry {
 public:
  explicit ModelRegistry(Database& database) : database_(database) {}

  absl::StatusOr<v1::Model> CreateModel(const v1::CreateModelRequest& request);
  absl::StatusOr<v1::Model> GetModel(std::string_view model);
  // The models of the scope's owners, and public models.
  absl::StatusOr<v1::ListModelsResponse> ListModels(const v1::ListModelsRequest& request,
                                                    const OwnerScope& scope);
  // A missing model is created, public: base models are there to be trained on.
  absl::StatusOr<v1::Version> ImportBaseVersion(const v1::ImportBaseVersionRequest& request);
  absl::StatusOr<v1::ListVersionsResponse> ListVersions(const v1::ListVersionsRequest& request);
  // Empty version_id: the latest version.
  absl::StatusOr<v1::Version> GetVersion(std::string_view model, std::string_view version_id);

  // Building blocks for other transactions. NOT_FOUND messages name the model or version.
  static absl::StatusOr<v1::Model> LoadModel(Connection& connection, const ModelRef& ref);
  static absl::StatusOr<v1::Version> LoadVersion(Connection& connection, const ModelRef& ref,
                                                 std::string_view version_id);
  // Fills id and create_time; ALREADY_EXISTS when the training already published a version.
  static absl::StatusOr<v1::Version> InsertVersion(Connection& connection, const ModelRef& ref,
                                                   v1::Version version);

 private:
  Database& database_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_REGISTRY_MODEL_REGISTRY_H_
