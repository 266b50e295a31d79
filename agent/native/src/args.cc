#include "args.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "errors.h"

namespace tenks {

namespace {

// A JS number that is an integer in [lo, hi].
bool IsIntegerIn(Napi::Value v, double lo, double hi) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  return std::isfinite(d) && std::trunc(d) == d && d >= lo && d <= hi;
}

}  // namespace

void Args::Fail(const std::string& message) const { throw MakeTypeError(Env(), op_, message); }

std::string Args::String(size_t i, const char* name) const {
  if (!info_[i].IsString()) Fail(std::string(name) + " must be a string");
  return info_[i].As<Napi::String>().Utf8Value();
}

std::optional<std::string> Args::NullableString(size_t i, const char* name) const {
  if (info_[i].IsNull()) return std::nullopt;
  if (!info_[i].IsString()) Fail(std::string(name) + " must be a string or null");
  return info_[i].As<Napi::String>().Utf8Value();
}

unsigned int Args::Flags(size_t i, const char* name) const {
  if (!IsIntegerIn(info_[i], 0, std::numeric_limits<uint32_t>::max()))
    Fail(std::string(name) + " must be an integer in [0, 2^32)");
  return info_[i].As<Napi::Number>().Uint32Value();
}

uint64_t Args::Size(size_t i, const char* name) const {
  if (!IsIntegerIn(info_[i], 0, 9007199254740991.0)) Fail(std::string(name) + " must be a whole number in [0, 2^53)");
  return static_cast<uint64_t>(info_[i].As<Napi::Number>().DoubleValue());
}

int Args::Int(size_t i, const char* name) const {
  if (!IsIntegerIn(info_[i], std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()))
    Fail(std::string(name) + " must be a 32-bit integer");
  return info_[i].As<Napi::Number>().Int32Value();
}

bool Args::Bool(size_t i, const char* name) const {
  if (!info_[i].IsBoolean()) Fail(std::string(name) + " must be a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

Napi::Function Args::Function(size_t i, const char* name) const {
  if (!info_[i].IsFunction()) Fail(std::string(name) + " must be a function");
  return info_[i].As<Napi::Function>();
}

template <typename T>
Handle<T>* Args::Object(size_t i) const {
  Handle<T>* h = UnwrapHandle<T>(info_[i]);
  if (h == nullptr) Fail("argument " + std::to_string(i + 1) + " must be a " + LvTraits<T>::kClassName);
  return h;
}

Handle<virConnect>* Args::ConnHandle(size_t i) const { return Object<virConnect>(i); }

Owned<virConnect> Args::Conn(size_t i) const {
  Handle<virConnect>* h = ConnHandle(i);
  if (h->get() == nullptr) throw Rejection{op_, ErrorInfo::Addon("connection is closed")};
  return Share(h->get());
}

template Handle<virConnect>* Args::Object(size_t) const;
template Handle<virDomain>* Args::Object(size_t) const;
template Handle<virStoragePool>* Args::Object(size_t) const;
template Handle<virStorageVol>* Args::Object(size_t) const;

}  // namespace tenks
