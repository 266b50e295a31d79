#include "errors.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>

namespace tenks {

namespace {

void SetFields(Napi::Object obj, const ErrorInfo& info, const char* op) {
  obj.Set("code", Napi::Number::New(obj.Env(), info.code));
  obj.Set("domain", Napi::Number::New(obj.Env(), info.domain));
  obj.Set("level", Napi::Number::New(obj.Env(), info.level));
  obj.Set("op", Napi::String::New(obj.Env(), op));
}

void IgnoreError(void* /*userData*/, virErrorPtr /*error*/) {}

}  // namespace

ErrorInfo ErrorInfo::Addon(std::string message) {
  ErrorInfo info;
  info.message = std::move(message);
  return info;
}

ErrorInfo TakeLastError() {
  ErrorInfo info;
  virErrorPtr err = virGetLastError();
  if (err != nullptr && err->code != VIR_ERR_OK) {
    info.code = err->code;
    info.domain = err->domain;
    info.level = err->level;
    info.message = err->message != nullptr ? err->message : "unknown libvirt error";
  } else {
    info.message = "libvirt call failed without reporting an error";
  }
  virResetLastError();
  return info;
}

void ThrowLastError() { throw LibvirtFailure(TakeLastError()); }

std::string TakeString(char* s) {
  Check(s);
  std::string copy(s);
  std::free(s);
  return copy;
}

Napi::Error MakeError(Napi::Env env, const ErrorInfo& info, const char* op) {
  Napi::Error error = Napi::Error::New(env, info.message);
  SetFields(error.Value(), info, op);
  return error;
}

Napi::TypeError MakeTypeError(Napi::Env env, const char* op, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, std::string(op) + ": " + message);
  SetFields(error.Value(), ErrorInfo::Addon(message), op);
  return error;
}

void SilenceLibvirtErrors() { virSetErrorFunc(nullptr, IgnoreError); }

}  // namespace tenks
