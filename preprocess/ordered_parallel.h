#ifndef EASEL_PREPROCESS_ORDERED_PARALLEL_H_
#define EASEL_PREPROCESS_ORDERED_PARALLEL_H_

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace easel::preprocess {

// Runs work(worker, index) for every index in [0, count) on `workers` threads (the calling
// thread is worker 0) and commit(index, result) for each result in index order, one at a time
// -- so what commit does is the same whatever the number of workers. At most
// 2 * workers + 2 finished results wait for their commit, which bounds the memory they hold.
// The first error (or exception) from either stops the run: work not yet started is not
// started, and that error is returned.
template <typename Result>
absl::Status RunInOrder(int count, int workers,
                        const std::function<absl::StatusOr<Result>(int worker, int index)>& work,
                        const std::function<absl::Status(int index, Result result)>& commit) {
  workers = std::max(1, std::min(workers, count));
  const int window = 2 * workers + 2;
  std::mutex mutex;
  std::condition_variable changed;
  int next_to_start = 0;
  int next_to_commit = 0;
  absl::Status failure;
  std::map<int, Result> finished;

  const auto guarded = [](const auto& call) -> decltype(call()) {
    try {
      return call();
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("exception: ", e.what()));
    }
  };
  const auto run_worker = [&](int worker) {
    std::unique_lock lock(mutex);
    while (true) {
      changed.wait(lock, [&] {
        return !failure.ok() || next_to_start >= count || next_to_start < next_to_commit + window;
      });
      if (!failure.ok() || next_to_start >= count) return;
      const int index = next_to_start++;
      lock.unlock();
      absl::StatusOr<Result> result = guarded([&] { return work(worker, index); });
      lock.lock();
      if (!result.ok()) {
        if (failure.ok()) failure = result.status();
        changed.notify_all();
        return;
      }
      finished.emplace(index, *std::move(result));
      while (failure.ok() && !finished.empty() && finished.begin()->first == next_to_commit) {
        Result ready = std::move(finished.begin()->second);
        finished.erase(finished.begin());
        const absl::Status committed =
            guarded([&] { return commit(next_to_commit, std::move(ready)); });
        if (!committed.ok()) failure = committed;
        ++next_to_commit;
      }
      changed.notify_all();
    }
  };

  std::vector<std::thread> threads;
  for (int worker = 1; worker < workers; ++worker) threads.emplace_back(run_worker, worker);
  run_worker(0);
  for (std::thread& thread : threads) thread.join();
  return failure;
}

}  // namespace easel::preprocess

#endif  // EASEL_PREPROCESS_ORDERED_PARALLEL_H_
