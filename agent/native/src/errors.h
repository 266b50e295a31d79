// Error plumbing: libvirt's thread-local last error -> C++ value -> JS Error.
#pragma once

#include <napi.h>

#include <exception>
#include <string>

namespace tenks {

// A copy of a virError (or an addon-side failure, code/domain -1), detached from libvirt so it can
// cross from the worker thread that saw it to the JS thread that reports it.
struct ErrorInfo {
  int code = -1;
  int domain = -1;
  int level = 2;  // VIR_ERR_ERROR
  std::string message;

  // A failure of the addon itself (not reported by libvirt).
  static ErrorInfo Addon(std::string message);
};

// Thrown on a worker thread by a failing libvirt call; the worker rejects its promise with it.
struct LibvirtFailure : std::exception {
  explicit LibvirtFailure(ErrorInfo info) : info(std::move(info)) {}
  const char* what() const noexcept override { return info.message.c_str(); }
  ErrorInfo info;
};

// Thrown on the JS thread by argument checks that must surface as a rejected promise rather than
// a synchronous throw (e.g. a closed connection). Turned into a rejection by the export wrapper.
struct Rejection {
  const char* op;
  ErrorInfo info;
};

// Copies libvirt's last error of the calling thread, then resets it.
ErrorInfo TakeLastError();

// Throws LibvirtFailure(TakeLastError()).
[[noreturn]] void ThrowLastError();

// For libvirt calls returning int: < 0 means failure. Returns rc otherwise.
inline int Check(int rc) {
  if (rc < 0) ThrowLastError();
  return rc;
}

// For libvirt calls returning a pointer: nullptr means failure.
template <typename P>
P* Check(P* p) {
  if (p == nullptr) ThrowLastError();
  return p;
}

// Takes ownership of a malloc'd string returned by libvirt (failure if null) and frees it.
std::string TakeString(char* s);

// The JS Error for `info`, with own properties code, domain, level and op.
Napi::Error MakeError(Napi::Env env, const ErrorInfo& info, const char* op);

// A TypeError for a bad argument (code -1, domain -1), for `throw`.
Napi::TypeError MakeTypeError(Napi::Env env, const char* op, const std::string& message);

// Installs a no-op libvirt error handler so libvirt does not print to stderr.
void SilenceLibvirtErrors();

}  // namespace tenks
