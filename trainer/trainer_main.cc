// easel-trainer: one training run. stdout carries JSON lines (one event each); humans read
// stderr. Exit codes: 0 success, 2 user/config error, 3 stopped by SIGTERM/SIGINT (after a
// checkpoint), 1 anything else.

#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "trainer/data/prepared_dataset.h"
#include "trainer/lora/lora.h"
#include "trainer/methods/lora_training.h"
#include "trainer/methods/training_spec.h"
#include "trainer/models/diffusers_model.h"
#include "trainer/models/single_file.h"
#include "trainer/models/torch_compat.h"
#include "trainer/parity/component_forward.h"

namespace easel {
namespace {

constexpr int kExitCrash = 1;
constexpr int kExitUser = 2;
constexpr int kExitInterrupted = 3;  // SIGTERM or SIGINT stopped training (checkpoint saved)

// Set by SIGTERM and SIGINT during `train`; the training loop stops after the current step.
std::atomic<bool> stop_requested{false};
std::atomic<int> stop_signal{0};

void RequestStop(int signal) {
  stop_signal.store(signal);
  stop_requested.store(true);
}
constexpr char kWeightsName[] = "lora.safetensors";
constexpr char kResultName[] = "result.json";

// Events keep "event" first for people reading the stream.
using Event = nlohmann::ordered_json;

std::string Dump(const Event& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class EventStream {
 public:
  // Quiet: events on stdout only, without the human-readable copy on stderr.
  void set_quiet(bool quiet) { quiet_ = quiet; }

  void Emit(const Event& event) {
    std::cout << Dump(event) << '\n' << std::flush;
  }
  void Log(const std::string& message) {
    if (!quiet_) std::cerr << "[easel-trainer] " << message << '\n' << std::flush;
    Emit({{"event", "log"}, {"message", message}});
  }
  void Progress(const methods::ProgressEvent& e) {
    Emit({{"event", "progress"},
          {"step", e.step},
          {"total", e.total},
          {"loss", e.loss},
          {"lr", e.lr},
          {"it_s", e.it_s},
          {"eta_s", e.eta_s}});
    if (quiet_) return;
    std::cerr << absl::StrFormat("[easel-trainer] step %d/%d loss %.4f lr %.2e %.2f it/s eta %.0fs\n",
                                 e.step, e.total, e.loss, e.lr, e.it_s, e.eta_s)
              << std::flush;
  }
  void Error(const std::string& message, bool user_error) {
    if (!quiet_) std::cerr << "[easel-trainer] error: " << message << '\n' << std::flush;
    Emit({{"event", "error"}, {"message", message}, {"class", user_error ? "user" : "crash"}});
  }

 private:
  bool quiet_ = false;
};

bool IsUserError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::filesystem::path& path, const char* what) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(what, " ", path.string(), " not found"));
  nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path.string(), " is not valid JSON"));
  }
  return json;
}

absl::Status WriteJsonFile(const std::filesystem::path& path, const nlohmann::json& json) {
  const std::filesystem::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp);
    out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", temp.string()));
  }
  std::error_code error;
  std::filesystem::rename(temp, path, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", temp.string(), " to ",
                                               path.string(), ": ", error.message()));
  }
  return absl::OkStatus();
}

std::string BaseModelName(const models::DiffusersModel& model) {
  if (model.model_index.is_object()) {
    auto it = model.model_index.find("_name_or_path");
    if (it != model.model_index.end() && it->is_string() && !it->get<std::string>().empty()) {
      return it->get<std::string>();
    }
  }
  return std::filesystem::absolute(model.dir).lexically_normal().filename().string();
}

absl::StatusOr<torch::Device> ChooseDevice(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  const bool cuda = torch::cuda::is_available();
  if (name == "cuda") {
    if (!cuda) return absl::FailedPreconditionError("--device cuda: no CUDA device is available");
    return torch::Device(torch::kCUDA);
  }
  if (name == "auto") return torch::Device(cuda ? torch::kCUDA : torch::kCPU);
  return absl::InvalidArgumentError(
      absl::StrCat("--device must be auto, cpu or cuda, got \"", name, "\""));
}

// Where a base model comes from: a diffusers directory, or a single-file checkpoint in the
// original key names with the CLIP tokenizer beside it.
struct BaseModelArgs {
  std::string model;
  std::string tokenizer;        // single-file checkpoints only
  std::string prediction_type;  // single-file checkpoints only: epsilon (default) or v_prediction
};

struct TrainArgs {
  std::string spec;
  std::string dataset;
  BaseModelArgs base;
  std::string output;
  std::string device = "auto";
  std::string checkpoint_dir;  // default: <output>/checkpoints
  std::string resume;
};

absl::StatusOr<models::DiffusersModel> LoadBaseModel(const BaseModelArgs& args,
                                                     EventStream& events) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(args.model, error)) {
    if (!args.tokenizer.empty() || !args.prediction_type.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tokenizer and --prediction-type apply to single-file checkpoints; ", args.model,
          " is not a file (a diffusers directory brings its own)"));
    }
    return models::LoadDiffusersModel(args.model);
  }
  if (args.tokenizer.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--model ", args.model, " is a single-file checkpoint, which holds no tokenizer: name "
        "one with --tokenizer DIR (a diffusers model directory, or a folder with vocab.json and "
        "merges.txt)"));
  }
  if (!args.prediction_type.empty() && args.prediction_type != "epsilon" &&
      args.prediction_type != "v_prediction") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--prediction-type must be epsilon or v_prediction, got \"", args.prediction_type, "\""));
  }
  std::vector<std::string> unused;
  EASEL_ASSIGN_OR_RETURN(models::DiffusersModel model,
                         models::LoadSingleFileCheckpoint(args.model, args.tokenizer, &unused));
  if (!args.prediction_type.empty()) {
    model.scheduler_config["prediction_type"] = args.prediction_type;
  }
  events.Log(absl::StrFormat("converted single-file checkpoint %s to %s (%d tensors not used%s)",
                             args.model, model.model_index.value("_class_name", "?"),
                             unused.size(), unused.empty() ? "" : absl::StrCat(", e.g. ", unused[0])));
  return model;
}

// The model family a kohya LoRA file names: SDXL has a second text encoder, SD 2.x projects
// its transformers linearly (1024-wide text features), SD 1.x does neither.
lora::BaseModelVersion BaseModelVersionOf(const models::DiffusersModel& model) {
  if (model.text_encoder_2) return lora::BaseModelVersion::kSdxlBase;
  const models::UNet2DConditionConfig& config = model.unet->config();
  if (config.use_linear_projection || config.cross_attention_dim == 1024) {
    return model.scheduler_config.value("prediction_type", "epsilon") == "v_prediction"
               ? lora::BaseModelVersion::kSd2V768
               : lora::BaseModelVersion::kSd2;
  }
  return lora::BaseModelVersion::kSd1;
}

absl::Status RunTrain(const TrainArgs& args, EventStream& events) {
  EASEL_ASSIGN_OR_RETURN(nlohmann::json spec_json, ReadJsonFile(args.spec, "spec"));
  EASEL_ASSIGN_OR_RETURN(methods::TrainingSpec spec, methods::ParseTrainingSpec(spec_json));
  for (const std::string& field : spec.unknown_fields) {
    events.Log(absl::StrCat("warning: spec field \"", field, "\" is not used by method ",
                            spec.method));
  }
  EASEL_ASSIGN_OR_RETURN(torch::Device device, ChooseDevice(args.device));

  EASEL_ASSIGN_OR_RETURN(data::PreparedDataset dataset, data::LoadPreparedDataset(args.dataset));
  events.Log(absl::StrFormat("dataset %s: %d images at %dpx, %d skipped", args.dataset,
                             dataset.images.size(), dataset.resolution, dataset.skipped.size()));
  EASEL_ASSIGN_OR_RETURN(models::DiffusersModel model, LoadBaseModel(args.base, events));
  events.Log(absl::StrCat("base model ", args.base.model, " loaded; training on ", device.str()));

  std::error_code error;
  const std::filesystem::path output(args.output);
  std::filesystem::create_directories(output, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create output directory ", output.string(), ": ", error.message()));
  }

  methods::TrainingCallbacks callbacks{
      .on_progress = [&](const methods::ProgressEvent& e) { events.Progress(e); },
      .on_log = [&](const std::string& message) { events.Log(message); },
      .on_checkpoint =
          [&](const std::filesystem::path& path, int64_t step) {
            events.Emit({{"event", "checkpoint"},
                         {"step", step},
                         {"path", std::filesystem::absolute(path).string()}});
          }};
  methods::CheckpointOptions checkpoints{
      .dir = args.checkpoint_dir.empty() ? output / "checkpoints"
                                         : std::filesystem::path(args.checkpoint_dir),
      .resume = args.resume,
      .stop_requested = &stop_requested};
  if (spec.checkpointing_steps > 0) {
    std::filesystem::create_directories(checkpoints.dir, error);
    if (error) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create checkpoint directory ", checkpoints.dir.string(), ": ", error.message()));
    }
  }
  absl::StatusOr<methods::LoraTrainingResult> trained =
      methods::TrainLora(model, dataset, spec, callbacks, device, checkpoints);
  if (absl::IsCancelled(trained.status()) && stop_requested.load()) {
    return absl::CancelledError(
        absl::StrCat("stopped by ", stop_signal.load() == SIGINT ? "SIGINT" : "SIGTERM", " ",
                     trained.status().message()));
  }
  EASEL_ASSIGN_OR_RETURN(methods::LoraTrainingResult result, std::move(trained));

  result.info.base_model = BaseModelName(model);
  result.info.base_model_version = BaseModelVersionOf(model);
  const bool kohya = spec.lora_format == "kohya";
  const char* format = kohya ? lora::kKohyaLoraFormat : lora::kDiffusersLoraFormat;
  EASEL_RETURN_IF_ERROR(lora::SaveLora(
      output / kWeightsName, {{"unet", model.unet.get()}}, result.info,
      kohya ? lora::LoraKeyStyle::kKohya : lora::LoraKeyStyle::kDiffusers));
  const std::vector<std::string> trigger_tokens = spec.TriggerTokens();
  EASEL_RETURN_IF_ERROR(WriteJsonFile(output / kResultName,
                                      {{"weights", kWeightsName},
                                       {"format", format},
                                       {"method", spec.method},
                                       {"trigger_tokens", trigger_tokens},
                                       {"steps", result.steps},
                                       {"final_loss", result.final_loss},
                                       {"lora_rank", result.info.rank},
                                       {"lora_alpha", result.info.alpha},
                                       {"base_model", result.info.base_model},
                                       {"steps_per_second", result.steps_per_second},
                                       {"peak_device_memory_bytes",
                                        result.peak_device_memory_bytes}}));
  events.Emit({{"event", "done"},
               {"weights", kWeightsName},
               {"format", format},
               {"trigger_tokens", trigger_tokens},
               {"steps", result.steps},
               {"final_loss", result.final_loss},
               {"steps_per_second", result.steps_per_second},
               {"peak_device_memory_bytes", result.peak_device_memory_bytes}});
  return absl::OkStatus();
}

struct ConvertArgs {
  BaseModelArgs base;
  std::string output;
  std::string dtype = "float16";
};

absl::Status RunConvert(const ConvertArgs& args, EventStream& events) {
  torch::Dtype dtype = torch::kFloat32;
  if (args.dtype == "float16") {
    dtype = torch::kFloat16;
  } else if (args.dtype == "bfloat16") {
    dtype = torch::kBFloat16;
  } else if (args.dtype != "float32") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dtype must be float32, float16 or bfloat16, got \"", args.dtype, "\""));
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(args.base.model, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--checkpoint ", args.base.model, " is not a file"));
  }
  EASEL_ASSIGN_OR_RETURN(models::DiffusersModel model, LoadBaseModel(args.base, events));
  EASEL_RETURN_IF_ERROR(models::SaveDiffusersModel(model, args.output, dtype));
  events.Log(absl::StrCat("wrote ", args.output, " (diffusers layout, ", args.dtype, ")"));
  events.Emit({{"event", "done"},
               {"model", args.output},
               {"pipeline", model.model_index.value("_class_name", "")},
               {"prediction_type", model.scheduler_config.value("prediction_type", "")}});
  return absl::OkStatus();
}

absl::Status RunInitModel(const std::string& preset, const std::string& output, uint64_t seed,
                          EventStream& events) {
  EASEL_ASSIGN_OR_RETURN(models::TinyPreset parsed, models::ParseTinyPreset(preset));
  EASEL_RETURN_IF_ERROR(models::SaveTinyModel(output, seed, parsed));
  events.Log(absl::StrCat("wrote the tiny preset model to ", output));
  events.Emit({{"event", "done"}, {"model", output}, {"preset", preset}, {"seed", seed}});
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  EventStream events;
  CLI::App app{"easel-trainer: runs one training job (JSON-lines events on stdout)",
               "easel-trainer"};
  app.require_subcommand(1);
  bool quiet = false;
  app.add_flag("--quiet", quiet,
               "Events on stdout only; no human-readable copy of them on stderr (for programs "
               "that read the events, such as easel-worker). Give it before the subcommand.");

  TrainArgs train_args;
  CLI::App* train = app.add_subcommand("train", "Train a LoRA on a prepared dataset");
  train->add_option("--spec", train_args.spec, "Training spec JSON file")->required();
  train->add_option("--dataset", train_args.dataset, "Prepared dataset directory")->required();
  train->add_option("--model", train_args.base.model,
                    "Base model: a diffusers directory, or a single-file checkpoint "
                    "(.safetensors, SD 1.x/2.x/SDXL original key names)")
      ->required();
  train->add_option("--tokenizer", train_args.base.tokenizer,
                    "Single-file checkpoint only: diffusers model directory or folder with the "
                    "CLIP tokenizer's vocab.json and merges.txt");
  train->add_option("--prediction-type", train_args.base.prediction_type,
                    "Single-file checkpoint only: epsilon (default) or v_prediction (SD 2.x 768-v)");
  train->add_option("--output", train_args.output, "Output directory (lora.safetensors, result.json)")
      ->required();
  train->add_option("--device", train_args.device, "auto (CUDA when available), cpu or cuda")
      ->capture_default_str();
  train->add_option("--checkpoint-dir", train_args.checkpoint_dir,
                    "Where checkpoints go when the spec's checkpointing_steps > 0 (default: "
                    "OUTPUT/checkpoints); each is announced with a \"checkpoint\" event");
  train->add_option("--resume", train_args.resume,
                    "A checkpoint directory (step-NNNNNNNN) of this training to go on from");
  train->footer(
      "SIGTERM or SIGINT: training stops after the current step, saves a checkpoint (when "
      "checkpointing) and exits with status 3.");

  std::string preset = "tiny";
  std::string model_output;
  uint64_t seed = 0;
  CLI::App* init_model =
      app.add_subcommand("init-model", "Write a randomly initialised preset base model");
  init_model->add_option("--preset", preset, "Preset name: tiny (SD 1.x layout) or tiny-sdxl")
      ->capture_default_str();
  init_model->add_option("--output", model_output, "Directory to write")->required();
  init_model->add_option("--seed", seed, "Initialisation seed")->capture_default_str();

  ConvertArgs convert_args;
  CLI::App* convert = app.add_subcommand(
      "convert", "Convert a single-file checkpoint to a diffusers directory");
  convert->footer(
      "Example:\n  easel-trainer convert --checkpoint v1-5-pruned-emaonly.safetensors \\\n"
      "      --tokenizer clip-tokenizer/ --output models/sd15\n"
      "Then register it as a base model: easel models create OWNER/NAME --from-diffusers DIR");
  convert->add_option("--checkpoint", convert_args.base.model,
                      "Single-file checkpoint (.safetensors) in the original key names")
      ->required();
  convert->add_option("--tokenizer", convert_args.base.tokenizer,
                      "Diffusers model directory or folder with vocab.json and merges.txt")
      ->required();
  convert->add_option("--prediction-type", convert_args.base.prediction_type,
                      "epsilon (default) or v_prediction (SD 2.x 768-v)");
  convert->add_option("--output", convert_args.output, "Directory to write (must not exist)")
      ->required();
  convert->add_option("--dtype", convert_args.dtype, "float32, float16 or bfloat16")
      ->capture_default_str();

  CLI::App* devices = app.add_subcommand(
      "devices", "Print the CUDA devices this trainer can use, as one JSON line (for easel-worker)");

  parity::ComponentForwardOptions forward_options;
  CLI::App* forward = app.add_subcommand(
      "forward", "Run one model component on tensors from a safetensors file (parity checks)");
  forward->add_option("--component", forward_options.component, "unet, text_encoder or vae")
      ->required();
  forward->add_option("--dir", forward_options.dir, "Component directory (config.json + weights)")
      ->required();
  forward->add_option("--inputs", forward_options.inputs, "Input tensors (safetensors)")->required();
  forward->add_option("--output", forward_options.output, "Where to write the outputs (safetensors)")
      ->required();
  forward->add_option("--lora", forward_options.lora, "LoRA file to apply first");
  forward->add_option("--random-lora-rank", forward_options.random_lora_rank,
                      "unet: add a seeded random LoRA of this rank (alpha = 2 * rank)");
  forward->add_option("--save-lora", forward_options.save_lora,
                      "Where to write the random LoRA (with --random-lora-rank)");
  forward->add_option("--lora-style", forward_options.lora_style,
                      "Key style of the written LoRA: diffusers or kohya")
      ->capture_default_str();
  forward->add_option("--lora-targets", forward_options.lora_targets,
                      "Comma-separated target modules of the random LoRA (default: attention)")
      ->delimiter(',');
  forward->add_option("--device", forward_options.device, "cpu or cuda")->capture_default_str();
  forward->add_option("--dtype", forward_options.dtype, "float32, bfloat16 or float16")
      ->capture_default_str();
  forward->add_option("--attention-backend", forward_options.attention_backend,
                      "auto, or one attention kernel: flash, efficient, math or cudnn")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    events.Error(absl::StrCat("usage: ", e.what(), " (run with --help)"), /*user_error=*/true);
    return kExitUser;
  }
  events.set_quiet(quiet);

  absl::Status status;
  try {
    if (train->parsed()) {
      std::signal(SIGTERM, RequestStop);
      std::signal(SIGINT, RequestStop);
      status = RunTrain(train_args, events);
    } else if (convert->parsed()) {
      status = RunConvert(convert_args, events);
    } else if (devices->parsed()) {
      nlohmann::json list = nlohmann::json::array();
      for (const compat::CudaDeviceInfo& device : compat::CudaDevices()) {
        list.push_back({{"kind", "cuda"},
                        {"index", device.index},
                        {"name", device.name},
                        {"memory_bytes", device.memory_bytes}});
      }
      events.Emit({{"event", "done"}, {"devices", list}});
    } else if (forward->parsed()) {
      status = parity::RunComponentForward(forward_options);
      if (status.ok()) events.Emit({{"event", "done"}, {"output", forward_options.output.string()}});
    } else {
      status = RunInitModel(preset, model_output, seed, events);
    }
  } catch (const std::exception& e) {
    status = absl::InternalError(e.what());
  }
  if (status.ok()) return 0;
  if (absl::IsCancelled(status) && stop_requested.load()) {
    events.Emit({{"event", "error"}, {"message", std::string(status.message())},
                 {"class", "interrupted"}});
    return kExitInterrupted;
  }
  const bool user_error = IsUserError(status);
  events.Error(std::string(status.message()), user_error);
  return user_error ? kExitUser : kExitCrash;
}

}  // namespace
}  // namespace easel

int main(int argc, char** argv) {
  try {
    return easel::Main(argc, argv);
  } catch (...) {
    std::cout << R"({"event":"error","message":"unexpected failure","class":"crash"})" << '\n'
              << std::flush;
    return 1;
  }
}
