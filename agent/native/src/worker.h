// A small generic AsyncWorker: runs `exec` on the libuv thread pool and settles a promise.
//
//   exec()            runs on a pool thread; returns a result or throws LibvirtFailure. It is
//                     destroyed on that thread right after running, so libvirt references it
//                     captured (Owned<...>) are dropped there, not on the JS thread.
//   ok(env, result)   runs on the JS thread; turns the result into the resolved JS value.
#pragma once

#include <napi.h>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "errors.h"

namespace tenks {

template <typename Exec, typename Ok>
class PromiseWorker final : public Napi::AsyncWorker {
 public:
  using Result = std::invoke_result_t<Exec&>;

  PromiseWorker(Napi::Env env, const char* op, Exec exec, Ok ok)
      : Napi::AsyncWorker(env, op),
        op_(op),
        deferred_(Napi::Promise::Deferred::New(env)),
        exec_(std::in_place, std::move(exec)),
        ok_(std::move(ok)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_.emplace((*exec_)());
    } catch (const LibvirtFailure& failure) {
      failure_ = failure.info;
    } catch (const std::exception& e) {
      failure_ = ErrorInfo::Addon(e.what());
    }
    exec_.reset();
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failure_) {
      deferred_.Reject(MakeError(env, *failure_, op_).Value());
      return;
    }
    try {
      deferred_.Resolve(ok_(env, std::move(*result_)));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  const char* op_;
  Napi::Promise::Deferred deferred_;
  std::optional<Exec> exec_;
  Ok ok_;
  std::optional<Result> result_;
  std::optional<ErrorInfo> failure_;
};

// Queues `exec` on the thread pool; the promise resolves with ok(env, exec()).
template <typename Exec, typename Ok>
Napi::Promise RunAsync(Napi::Env env, const char* op, Exec exec, Ok ok) {
  auto* worker = new PromiseWorker<Exec, Ok>(env, op, std::move(exec), std::move(ok));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// Queues `exec` (returning void) on the thread pool; the promise resolves with undefined.
template <typename Exec>
Napi::Promise RunAsyncVoid(Napi::Env env, const char* op, Exec exec) {
  struct Done {};
  return RunAsync(
      env, op,
      [exec = std::move(exec)]() mutable {
        exec();
        return Done{};
      },
      [](Napi::Env env, Done) -> Napi::Value { return env.Undefined(); });
}

}  // namespace tenks
