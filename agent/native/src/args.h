// Checked access to the arguments of an exported function. Type mismatches throw a TypeError
// (code -1) synchronously; a closed connection throws Rejection (a rejected promise).
#pragma once

#include <napi.h>

#include <optional>
#include <string>

#include "handles.h"

namespace tenks {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}

  Napi::Env Env() const { return info_.Env(); }
  const char* Op() const { return op_; }

  std::string String(size_t i, const char* name) const;
  // A string or null.
  std::optional<std::string> NullableString(size_t i, const char* name) const;
  // An integer in [0, 2^32).
  unsigned int Flags(size_t i, const char* name = "flags") const;
  // A whole number in [0, 2^53) (sizes in bytes).
  uint64_t Size(size_t i, const char* name) const;
  // An integer in the int32 range.
  int Int(size_t i, const char* name) const;
  bool Bool(size_t i, const char* name) const;
  Napi::Function Function(size_t i, const char* name) const;

  // The connection handle itself (open or closed).
  Handle<virConnect>* ConnHandle(size_t i) const;
  // A new reference to the open connection at i, for a worker; Rejection if it was closed.
  Owned<virConnect> Conn(size_t i) const;
  // New references to the objects at i, for a worker.
  Owned<virDomain> Domain(size_t i) const { return Share(Object<virDomain>(i)->get()); }
  Owned<virStoragePool> Pool(size_t i) const { return Share(Object<virStoragePool>(i)->get()); }
  Owned<virStorageVol> Volume(size_t i) const { return Share(Object<virStorageVol>(i)->get()); }
  // The libvirt object at i, borrowed (for synchronous accessors).
  template <typename T>
  Handle<T>* Object(size_t i) const;

  [[noreturn]] void Fail(const std::string& message) const;

 private:
  const Napi::CallbackInfo& info_;
  const char* op_;
};

}  // namespace tenks
