#ifndef EASEL_COMMON_STATUS_MACROS_H_
#define EASEL_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Abseil 20220623 ships no status macros; these two are all the project uses.

// Returns from the current function when `expr` (an absl::Status) is not OK.
#define EASEL_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    ::absl::Status easel_status_ = (expr);           \
    if (!easel_status_.ok()) return easel_status_;   \
  } while (0)

#define EASEL_STATUS_CONCAT_INNER_(a, b) a##b
#define EASEL_STATUS_CONCAT_(a, b) EASEL_STATUS_CONCAT_INNER_(a, b)

// `lhs` = value of `expr` (an absl::StatusOr<T>), or returns its status.
#define EASEL_ASSIGN_OR_RETURN(lhs, expr) \
  EASEL_ASSIGN_OR_RETURN_IMPL_(EASEL_STATUS_CONCAT_(easel_statusor_, __LINE__), lhs, expr)

#define EASEL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // EASEL_COMMON_STATUS_MACROS_H_
