#include "coordinator/api/training_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base_model_resolution.h"
#include "common/status_macros.h"
#include "coordinator/api/grpc_status.h"
#include "coordinator/api/training_input.h"
#include "coordinator/auth/access.h"
#include "coordinator/registry/names.h"
#include "coordinator/webhooks/webhook_store.h"

namespace easel::coordinator {
namespace {

constexpr int kEventBatch = 256;
// How often an idle watch looks whether its client went away.
constexpr absl::Duration kCancelCheckInterval = absl::Seconds(1);

}  // namespace

void TrainingServiceImpl::AddWebUrl(v1::Training& training) const {
  if (!web_base_url_.empty()) {
    training.set_web_url(absl::StrCat(web_base_url_, "/trainings/", training.id()));
  }
}

absl::StatusOr<v1::Training> TrainingServiceImpl::Visible(const Principal& caller,
                                                          std::string_view id) {
  EASEL_ASSIGN_OR_RETURN(v1::Training training, trainings_.Get(id));
  EASEL_RETURN_IF_ERROR(CheckCanSee(caller, training));
  return training;
}

absl::StatusOr<v1::Training> TrainingServiceImpl::Create(const Principal& caller,
                                                         const v1::CreateTrainingRequest& request) {
  if (request.request_id().size() > 128) {
    return absl::InvalidArgumentError("request_id must be at most 128 bytes long");
  }
  EASEL_ASSIGN_OR_RETURN(std::optional<v1::Training> existing,
                         trainings_.FindByRequestId(request.request_id()));
  if (existing.has_value()) {
    if (!CheckCanSee(caller, *existing).ok()) {  // request ids are global; don't leak the training
      return absl::AlreadyExistsError(absl::StrCat(
          "request_id ", request.request_id(), " is taken; choose another (a random one)"));
    }
    return *existing;
  }

  EASEL_ASSIGN_OR_RETURN(ModelRef base, ParseModelRef(request.model(), "model"));
  absl::StatusOr<v1::Model> base_model = models_.GetModel(base.ToString());
  if (base_model.ok()) {
    absl::Status may_read = CheckCanRead(caller, *base_model);
    if (!may_read.ok()) base_model = may_read;
  }
  if (absl::IsNotFound(base_model.status())) {
    return absl::NotFoundError(absl::StrCat("base model ", base.ToString(), " not found"));
  }
  EASEL_RETURN_IF_ERROR(base_model.status());
  EASEL_ASSIGN_OR_RETURN(v1::Version version,
                         models_.GetVersion(base.ToString(), request.version()));
  if (version.base_model_dir().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version ", version.model(), ":", version.id(),
        " is a trained version; training on top of trained versions is not supported yet, "
        "choose a base version (easel models import-base)"));
  }
  EASEL_ASSIGN_OR_RETURN(ModelRef destination, ParseModelRef(request.destination(), "destination"));
  absl::StatusOr<v1::Model> destination_model = models_.GetModel(destination.ToString());
  if (destination_model.ok()) {
    absl::Status may_change = CheckCanChange(caller, *destination_model);
    if (!may_change.ok()) destination_model = may_change;
  }
  if (absl::IsNotFound(destination_model.status())) {
    return absl::NotFoundError(absl::StrCat("destination model ", destination.ToString(),
                                            " not found; create it with `easel models create ",
                                            destination.ToString(), "`"));
  }
  EASEL_RETURN_IF_ERROR(destination_model.status());

  EASEL_ASSIGN_OR_RETURN(
      TrainingInput input,
      ValidateTrainingInput(
          request.input(),
          [&](std::string_view sha256) {
            return datasets_.GetDataset(sha256, OwnerScope::Of(caller)).status();
          },
          DrawRandomSeed));
  if (!input.input.fields().contains("resolution")) {
    // Filled in here, so that preprocessing and training agree and the stored input says it.
    (*input.input.mutable_fields())["resolution"].set_number_value(
        BaseModelResolution(version.base_model_dir()));
  }
  EASEL_ASSIGN_OR_RETURN(std::vector<std::string> webhook_events,
                         ValidateWebhook(request.webhook(), request.webhook_events_filter()));
  NewTraining training;
  training.webhook = request.webhook();
  training.webhook_events = std::move(webhook_events);
  training.model = base.ToString();
  training.version_id = version.id();
  training.base_model_dir = version.base_model_dir();
  training.destination = destination.ToString();
  training.input = std::move(input.input);
  training.dataset_sha256 = input.dataset_sha256;
  training.request_id = request.request_id();
  EASEL_ASSIGN_OR_RETURN(v1::Training created, trainings_.Create(training));
  if (!CheckCanSee(caller, created).ok()) {  // another owner's request won a race for the id
    return absl::AlreadyExistsError(absl::StrCat(
        "request_id ", request.request_id(), " is taken; choose another (a random one)"));
  }
  return created;
}

grpc::Status TrainingServiceImpl::CreateTraining(grpc::ServerContext* context,
                                                 const v1::CreateTrainingRequest* request,
                                                 v1::Training* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_ASSIGN_OR_RETURN(*response, Create(caller, *request));
    AddWebUrl(*response);
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::GetTraining(grpc::ServerContext* context,
                                              const v1::GetTrainingRequest* request,
                                              v1::Training* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_ASSIGN_OR_RETURN(*response, Visible(caller, request->id()));
    AddWebUrl(*response);
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::ListTrainings(grpc::ServerContext* context,
                                                const v1::ListTrainingsRequest* request,
                                                v1::ListTrainingsResponse* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_ASSIGN_OR_RETURN(*response, trainings_.List(*request, OwnerScope::Of(caller)));
    for (v1::Training& training : *response->mutable_trainings()) AddWebUrl(training);
    return absl::OkStatus();
  });
}

grpc::Status TrainingServiceImpl::CancelTraining(grpc::ServerContext* context,
                                                 const v1::CancelTrainingRequest* request,
                                                 v1::Training* response) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_RETURN_IF_ERROR(Visible(caller, request->id()).status());
    EASEL_ASSIGN_OR_RETURN(*response, trainings_.Cancel(request->id()));
    AddWebUrl(*response);
    return absl::OkStatus();
  });
}

absl::Status TrainingServiceImpl::Watch(grpc::ServerContext& context,
                                        const v1::WatchTrainingRequest& request,
                                        grpc::ServerWriter<v1::TrainingEvent>& writer) {
  EASEL_RETURN_IF_ERROR(trainings_.Get(request.id()).status());
  int64_t after = std::max<int64_t>(request.after_sequence(), 0);
  while (true) {
    uint64_t seen = events_.generation();
    EASEL_ASSIGN_OR_RETURN(std::vector<v1::TrainingEvent> events,
                           trainings_.EventsAfter(request.id(), after, kEventBatch));
    for (const v1::TrainingEvent& event : events) {
      if (!writer.Write(event)) return absl::CancelledError("the client stopped reading");
      after = event.sequence();
      if (event.has_status() && IsTerminal(event.status().status())) return absl::OkStatus();
    }
    if (static_cast<int>(events.size()) == kEventBatch) continue;
    if (events.empty()) {
      EASEL_ASSIGN_OR_RETURN(v1::Training training, trainings_.Get(request.id()));
      if (IsTerminal(training.status())) return absl::OkStatus();
    }
    if (context.IsCancelled()) return absl::CancelledError("the client went away");
    if (!events_.WaitFor(seen, absl::Now() + kCancelCheckInterval)) {
      return absl::UnavailableError("the coordinator is shutting down; watch again");
    }
  }
}

grpc::Status TrainingServiceImpl::WatchTraining(grpc::ServerContext* context,
                                                const v1::WatchTrainingRequest* request,
                                                grpc::ServerWriter<v1::TrainingEvent>* writer) {
  return HandleRpc([&]() -> absl::Status {
    EASEL_ASSIGN_OR_RETURN(Principal caller, auth_.User(*context));
    EASEL_RETURN_IF_ERROR(Visible(caller, request->id()).status());
    return Watch(*context, *request, *writer);
  });
}

}  // namespace easel::coordinator
