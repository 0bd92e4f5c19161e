#ifndef EASEL_COORDINATOR_STORE_STRUCT_JSON_H_
#define EASEL_COORDINATOR_STORE_STRUCT_JSON_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"

namespace easel::coordinator {

// A stored JSON object (a training's input) as a google.protobuf.Struct: what protobuf's
// JsonStringToMessage gives, at a small fraction of its cost (it sets up a type resolver per
// call; the scheduler reads inputs on every lease). Numbers become doubles.
// INVALID_ARGUMENT unless `json` is a JSON object.
absl::StatusOr<google::protobuf::Struct> StructFromJson(std::string_view json);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_STORE_STRUCT_JSON_H_
