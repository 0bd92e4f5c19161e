#include "coordinator/registry/model_registry.h"

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "coordinator/store/page_token.h"
#include "coordinator/store/timestamps.h"
#include "nlohmann/json.hpp"

namespace easel::coordinator {
namespace {

constexpr char kVersionColumns[] =
    "seq, id, owner, name, create_us, base_version, weights_digest, weights_size, "
    "weights_format, trigger_tokens, COALESCE(training_id, ''), base_model_dir";

v1::Version VersionFromRow(const Statement& row) {
  v1::Version version;
  version.set_id(row.Text(1));
  version.set_model(absl::StrCat(row.Text(2), "/", row.Text(3)));
  *version.mutable_create_time() = MicrosToProto(row.Int(4));
  version.set_base_version(row.Text(5));
  version.set_weights_digest(row.Text(6));
  version.set_weights_size(row.Int(7));
  version.set_weights_format(row.Text(8));
  nlohmann::json tokens = nlohmann::json::parse(row.Text(9), nullptr, false);
  if (tokens.is_array()) {
    for (const auto& token : tokens) {
      if (token.is_string()) version.add_trigger_tokens(token.get<std::string>());
    }
  }
  version.set_training_id(row.Text(10));
  version.set_base_model_dir(row.Text(11));
  return version;
}

constexpr char kModelSelect[] =
    "SELECT m.seq, m.owner, m.name, m.description, m.visibility, m.create_us, "
    "COALESCE((SELECT v.id FROM versions v WHERE v.owner = m.owner AND v.name = m.name "
    "ORDER BY v.seq DESC LIMIT 1), ''), "
    "(SELECT COUNT(*) FROM versions v WHERE v.owner = m.owner AND v.name = m.name) "
    "FROM models m ";

v1::Model ModelFromRow(const Statement& row) {
  v1::Model model;
  model.set_owner(row.Text(1));
  model.set_name(row.Text(2));
  model.set_description(row.Text(3));
  model.set_visibility(row.Text(4));
  *model.mutable_create_time() = MicrosToProto(row.Int(5));
  model.set_latest_version_id(row.Text(6));
  model.set_version_count(row.Int(7));
  return model;
}

absl::Status InsertModel(Connection& connection, const ModelRef& ref,
                         const std::string& description, const std::string& visibility) {
  absl::StatusOr<int> inserted = connection.Execute(
      "INSERT INTO models (owner, name, description, visibility, create_us) "
      "VALUES (?, ?, ?, ?, ?)",
      {ref.owner, ref.name, description, visibility, ToMicros(absl::Now())});
  if (absl::IsAlreadyExists(inserted.status())) {
    return absl::AlreadyExistsError(absl::StrCat("model ", ref.ToString(), " already exists"));
  }
  return inserted.status();
}

}  // namespace

absl::StatusOr<v1::Model> ModelRegistry::LoadModel(Connection& connection, const ModelRef& ref) {
  EASEL_ASSIGN_OR_RETURN(
      Statement row,
      connection.Query(absl::StrCat(kModelSelect, "WHERE m.owner = ? AND m.name = ?"),
                       {ref.owner, ref.name}));
  EASEL_ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("model ", ref.ToString(), " not found"));
  return ModelFromRow(row);
}

absl::StatusOr<v1::Version> ModelRegistry::LoadVersion(Connection& connection,
                                                       const ModelRef& ref,
                                                       std::string_view version_id) {
  EASEL_RETURN_IF_ERROR(LoadModel(connection, ref).status());
  std::string sql = absl::StrCat("SELECT ", kVersionColumns,
                                 " FROM versions WHERE owner = ? AND name = ? ");
  absl::StatusOr<Statement> row =
      version_id.empty()
          ? connection.Query(sql + "ORDER BY seq DESC LIMIT 1", {ref.owner, ref.name})
          : connection.Query(sql + "AND id = ?", {ref.owner, ref.name, std::string(version_id)});
  EASEL_RETURN_IF_ERROR(row.status());
  EASEL_ASSIGN_OR_RETURN(bool found, row->Step());
  if (!found) {
    if (version_id.empty()) {
      return absl::NotFoundError(absl::StrCat("model ", ref.ToString(), " has no versions"));
    }
    return absl::NotFoundError(
        absl::StrCat("version ", ref.ToString(), ":", std::string(version_id), " not found"));
  }
  return VersionFromRow(*row);
}

absl::StatusOr<v1::Version> ModelRegistry::InsertVersion(Connection& connection,
                                                         const ModelRef& ref,
                                                         v1::Version version) {
  version.set_id(NewId());
  version.set_model(ref.ToString());
  int64_t now = ToMicros(absl::Now());
  *version.mutable_create_time() = MicrosToProto(now);
  nlohmann::json tokens = nlohmann::json::array();
  for (const std::string& token : version.trigger_tokens()) tokens.push_back(token);
  SqlValue training_id = version.training_id().empty() ? SqlValue(nullptr)
                                                       : SqlValue(version.training_id());
  absl::StatusOr<int> inserted = connection.Execute(
      "INSERT INTO versions (id, owner, name, create_us, base_version, weights_digest, "
      "weights_size, weights_format, trigger_tokens, training_id, base_model_dir) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {version.id(), ref.owner, ref.name, now, version.base_version(), version.weights_digest(),
       version.weights_size(), version.weights_format(), tokens.dump(), training_id,
       version.base_model_dir()});
  if (absl::IsAlreadyExists(inserted.status())) {
    return absl::AlreadyExistsError(
        absl::StrCat("training ", version.training_id(), " already published a version"));
  }
  EASEL_RETURN_IF_ERROR(inserted.status());
  return version;
}

absl::StatusOr<v1::Model> ModelRegistry::CreateModel(const v1::CreateModelRequest& request) {
  EASEL_RETURN_IF_ERROR(ValidateNamePart(request.owner(), "owner"));
  EASEL_RETURN_IF_ERROR(ValidateNamePart(request.name(), "name"));
  std::string visibility = request.visibility().empty() ? "private" : request.visibility();
  if (visibility != "private" && visibility != "public") {
    return absl::InvalidArgumentError(absl::StrCat(
        "visibility '", request.visibility(), "' is invalid: use \"public\" or \"private\""));
  }
  if (request.description().size() > 4096) {
    return absl::InvalidArgumentError("description is longer than 4096 bytes");
  }
  ModelRef ref{request.owner(), request.name()};
  v1::Model model;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    EASEL_RETURN_IF_ERROR(InsertModel(connection, ref, request.description(), visibility));
    EASEL_ASSIGN_OR_RETURN(model, LoadModel(connection, ref));
    return absl::OkStatus();
  }));
  return model;
}

absl::StatusOr<v1::Model> ModelRegistry::GetModel(std::string_view model) {
  EASEL_ASSIGN_OR_RETURN(ModelRef ref, ParseModelRef(model, "model"));
  v1::Model result;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(result, LoadModel(connection, ref));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<v1::ListModelsResponse> ModelRegistry::ListModels(
    const v1::ListModelsRequest& request, const OwnerScope& scope) {
  if (!request.owner().empty()) EASEL_RETURN_IF_ERROR(ValidateNamePart(request.owner(), "owner"));
  EASEL_ASSIGN_OR_RETURN(int page_size, ClampPageSize(request.page_size()));
  EASEL_ASSIGN_OR_RETURN(int64_t after, DecodePageToken(request.page_token()));
  v1::ListModelsResponse response;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(
        Statement row,
        connection.Query(absl::StrCat(kModelSelect,
                                      "WHERE m.seq > ? AND (? = '' OR m.owner = ?) "
                                      "AND (? OR m.visibility = 'public' "
                                      "OR m.owner IN (SELECT value FROM json_each(?))) "
                                      "ORDER BY m.seq LIMIT ?"),
                         {after, request.owner(), request.owner(), int64_t{scope.all},
                          nlohmann::json(scope.owners).dump(), int64_t{page_size + 1}}));
    int64_t last_seq = 0;
    while (true) {
      EASEL_ASSIGN_OR_RETURN(bool more, row.Step());
      if (!more) break;
      if (response.models_size() == page_size) {
        response.set_next_page_token(EncodePageToken(last_seq));
        break;
      }
      *response.add_models() = ModelFromRow(row);
      last_seq = row.Int(0);
    }
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<v1::Version> ModelRegistry::ImportBaseVersion(
    const v1::ImportBaseVersionRequest& request) {
  EASEL_ASSIGN_OR_RETURN(ModelRef ref, ParseModelRef(request.model(), "model"));
  std::filesystem::path dir(request.diffusers_dir());
  if (request.diffusers_dir().empty() || !dir.is_absolute()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "diffusers_dir '", request.diffusers_dir(), "' must be an absolute path"));
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(dir / "model_index.json", error)) {
    return absl::InvalidArgumentError(absl::StrCat("diffusers_dir ", dir.string(),
                                                   " holds no model_index.json; is it a "
                                                   "diffusers-layout model directory?"));
  }
  v1::Version version;
  version.set_weights_format("diffusers-directory");
  version.set_base_model_dir(dir.lexically_normal().string());
  v1::Version result;
  EASEL_RETURN_IF_ERROR(database_.Transact([&](Connection& connection) -> absl::Status {
    absl::StatusOr<v1::Model> model = LoadModel(connection, ref);
    if (absl::IsNotFound(model.status())) {
      EASEL_RETURN_IF_ERROR(InsertModel(connection, ref, "", "public"));
    } else {
      EASEL_RETURN_IF_ERROR(model.status());
    }
    EASEL_ASSIGN_OR_RETURN(result, InsertVersion(connection, ref, version));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<v1::ListVersionsResponse> ModelRegistry::ListVersions(
    const v1::ListVersionsRequest& request) {
  EASEL_ASSIGN_OR_RETURN(ModelRef ref, ParseModelRef(request.model(), "model"));
  EASEL_ASSIGN_OR_RETURN(int page_size, ClampPageSize(request.page_size()));
  EASEL_ASSIGN_OR_RETURN(int64_t before, DecodePageToken(request.page_token()));
  if (before == 0) before = std::numeric_limits<int64_t>::max();
  v1::ListVersionsResponse response;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_RETURN_IF_ERROR(LoadModel(connection, ref).status());
    EASEL_ASSIGN_OR_RETURN(
        Statement row,
        connection.Query(absl::StrCat("SELECT ", kVersionColumns,
                                      " FROM versions WHERE owner = ? AND name = ? AND seq < ? "
                                      "ORDER BY seq DESC LIMIT ?"),
                         {ref.owner, ref.name, before, int64_t{page_size + 1}}));
    int64_t last_seq = 0;
    while (true) {
      EASEL_ASSIGN_OR_RETURN(bool more, row.Step());
      if (!more) break;
      if (response.versions_size() == page_size) {
        response.set_next_page_token(EncodePageToken(last_seq));
        break;
      }
      *response.add_versions() = VersionFromRow(row);
      last_seq = row.Int(0);
    }
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<v1::Version> ModelRegistry::GetVersion(std::string_view model,
                                                      std::string_view version_id) {
  EASEL_ASSIGN_OR_RETURN(ModelRef ref, ParseModelRef(model, "model"));
  v1::Version version;
  EASEL_RETURN_IF_ERROR(database_.Read([&](Connection& connection) -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(version, LoadVersion(connection, ref, version_id));
    return absl::OkStatus();
  }));
  return version;
}

}  // namespace easel::coordinator
