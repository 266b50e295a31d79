// JS handle objects wrapping libvirt object pointers, and RAII references to those pointers.
#pragma once

#include <libvirt/libvirt.h>
#include <napi.h>

#include <memory>
#include <utility>
#include <vector>

namespace tenks {

// Per libvirt object type: how to add and drop a reference, and how the JS handle looks.
template <typename T>
struct LvTraits;

template <>
struct LvTraits<virConnect> {
  static constexpr const char* kClassName = "NativeConnection";
  static constexpr int kIndex = 0;
  static const napi_type_tag kTag;
  static int Ref(virConnectPtr p) { return virConnectRef(p); }
  static void Free(virConnectPtr p) { virConnectClose(p); }
};

template <>
struct LvTraits<virDomain> {
  static constexpr const char* kClassName = "NativeDomain";
  static constexpr int kIndex = 1;
  static const napi_type_tag kTag;
  static int Ref(virDomainPtr p) { return virDomainRef(p); }
  static void Free(virDomainPtr p) { virDomainFree(p); }
};

template <>
struct LvTraits<virStoragePool> {
  static constexpr const char* kClassName = "NativePool";
  static constexpr int kIndex = 2;
  static const napi_type_tag kTag;
  static int Ref(virStoragePoolPtr p) { return virStoragePoolRef(p); }
  static void Free(virStoragePoolPtr p) { virStoragePoolFree(p); }
};

template <>
struct LvTraits<virStorageVol> {
  static constexpr const char* kClassName = "NativeVolume";
  static constexpr int kIndex = 3;
  static const napi_type_tag kTag;
  static int Ref(virStorageVolPtr p) { return virStorageVolRef(p); }
  static void Free(virStorageVolPtr p) { virStorageVolFree(p); }
};

template <>
struct LvTraits<virStream> {
  static int Ref(virStreamPtr p) { return virStreamRef(p); }
  static void Free(virStreamPtr p) { virStreamFree(p); }
};

template <typename T>
struct LvDeleter {
  void operator()(T* p) const {
    if (p != nullptr) LvTraits<T>::Free(p);
  }
};

// One owned libvirt reference; dropping it calls virXxxFree / virConnectClose.
template <typename T>
using Owned = std::unique_ptr<T, LvDeleter<T>>;

// A new reference to `p` (virXxxRef), e.g. to keep an object alive while a worker uses it.
template <typename T>
Owned<T> Share(T* p) {
  LvTraits<T>::Ref(p);
  return Owned<T>(p);
}

// A JS object owning one libvirt reference. Constructed only by Wrap(); an instance created from
// JS (through `.constructor`) is empty and lacks the type tag, so argument checks reject it.
template <typename T>
class Handle : public Napi::ObjectWrap<Handle<T>> {
 public:
  explicit Handle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Handle<T>>(info) {}
  ~Handle() override;

  static Napi::Function DefineClass(Napi::Env env);

  T* get() const { return ptr_; }
  void Adopt(T* p) { ptr_ = p; }
  // Gives up the reference (connectClose); get() is nullptr afterwards.
  Owned<T> Take() { return Owned<T>(std::exchange(ptr_, nullptr)); }

 private:
  T* ptr_ = nullptr;
};

// Registers the handle classes for this env (call once from module init).
void InitHandles(Napi::Env env);

// Wraps an owned reference in a new handle object.
template <typename T>
Napi::Object Wrap(Napi::Env env, Owned<T> p);

// Wraps each reference of a list.
template <typename T>
Napi::Array WrapAll(Napi::Env env, std::vector<Owned<T>> list) {
  Napi::Array array = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); i++) array.Set(static_cast<uint32_t>(i), Wrap(env, std::move(list[i])));
  return array;
}

// The handle behind `value` if it is a handle of kind T, else nullptr.
template <typename T>
Handle<T>* UnwrapHandle(Napi::Value value);

}  // namespace tenks
