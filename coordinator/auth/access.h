#ifndef EASEL_COORDINATOR_AUTH_ACCESS_H_
#define EASEL_COORDINATOR_AUTH_ACCESS_H_

#include "absl/status/status.h"
#include "coordinator/auth/principal.h"
#include "easel/v1/resources.pb.h"

namespace easel::coordinator {

// Who may do what. Another owner's private resources read as missing (NOT_FOUND, worded like
// the store's own message), so that a token cannot learn what exists outside its owners.

// Reading a model and its versions: its owner's tokens, or anyone when it is public.
absl::Status CheckCanRead(const Principal& caller, const v1::Model& model);
// Changing a model (training into it): its owner's tokens. PERMISSION_DENIED for a public model
// of another owner, NOT_FOUND for a private one.
absl::Status CheckCanChange(const Principal& caller, const v1::Model& model);
// Creating something under `owner`: PERMISSION_DENIED unless the caller acts for it.
absl::Status CheckActsFor(const Principal& caller, std::string_view owner);
// Seeing or canceling a training: its destination's owner's tokens.
absl::Status CheckCanSee(const Principal& caller, const v1::Training& training);

}  // namespace easel::coordinator

#endif  // EASEL_COORDINATOR_AUTH_ACCESS_H_
