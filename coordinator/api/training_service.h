#ifndef EASEL_COORDINATOR_API_TRAINING_SERVICE_H_
#define EASEL_COORDINATOR_API_TRAINING_SERVICE_H_

#include "coordinator/auth/authenticator.h"
#include "coordinator/registry/dataset_registry.h"
#include "coordinator/registry/model_registry.h"
#include "coordinator/scheduler/notifier.h"
#include "coordinator/scheduler/training_store.h"
#include "easel/v1/trainings.grpc.pb.h"

namespace easel::coordinator {

class TrainingServiceImpl final : public v1::TrainingService::Service {
 public:
  TrainingServiceImpl(Authenticator& auth, TrainingStore& trainings, ModelRegistry& models,
                      DatasetRegistry& datasets, Notifier& events)
      : auth_(auth), trainings_(trainings), models_(models), datasets_(datasets), events_(events) {}

  grpc::Status CreateTraining(grpc::ServerContext* context,
                              const v1::CreateTrainingRequest* request,
                              v1::Training* response) override;
  grpc::Status GetTraining(grpc::ServerContext* context, const v1::GetTrainingRequest* request,
                           v1::Training* response) override;
  grpc::Status ListTrainings(grpc::ServerContext* context,
                             const v1::ListTrainingsRequest* request,
                             v1::ListTrainingsResponse* response) override;
  grpc::Status CancelTraining(grpc::ServerContext* context,
                              const v1::CancelTrainingRequest* request,
                              v1::Training* response) override;
  grpc::Status WatchTraining(grpc::ServerContext* context,
                             const v1::WatchTrainingRequest* request,
                             grpc::ServerWriter<v1::TrainingEvent>* writer) override;

  // Training responses name their page under this URL (the HTTP API's; set before serving).
  void set_web_base_url(std::string url) { web_base_url_ = std::move(url); }

  // The operations behind the calls, for a caller already authenticated (the HTTP API's).
  absl::StatusOr<v1::Training> Create(const Principal& caller,
                                      const v1::CreateTrainingRequest& request);
  // The training, when the caller may see it.
  absl::StatusOr<v1::Training> Visible(const Principal& caller, std::string_view id);

 private:
  // Sets the training's web_url.
  void AddWebUrl(v1::Training& training) const;
  absl::Status Watch(grpc::ServerContext& context, const v1::WatchTrainingRequest& request,
                     grpc::ServerWriter<v1::TrainingEvent>& writer);

  Authenticator& auth_;
  TrainingStore& trainings_;
  ModelRegistry& models_;
  DatasetRegistry& datasets_;
  Notifier& events_;
  std::string web_base_url_;
};

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_API_TRAINING_SERVICE_H_
