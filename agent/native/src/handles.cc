#include "handles.h"

#include <thread>
#include <type_traits>

namespace tenks {

const napi_type_tag LvTraits<virConnect>::kTag = {0x7465'6e6b'7301'0001ULL, 0x9c1f'4a52'd3b0'6e11ULL};
const napi_type_tag LvTraits<virDomain>::kTag = {0x7465'6e6b'7301'0002ULL, 0x5e27'0b8c'41f9'a722ULL};
const napi_type_tag LvTraits<virStoragePool>::kTag = {0x7465'6e6b'7301'0003ULL, 0x0d63'e5a1'7c48'b933ULL};
const napi_type_tag LvTraits<virStorageVol>::kTag = {0x7465'6e6b'7301'0004ULL, 0xa4b2'96fe'1d37'c044ULL};

namespace {

// Per-env data: the constructors of the four handle classes.
struct HandleClasses {
  Napi::FunctionReference constructors[4];
};

}  // namespace

template <typename T>
Handle<T>::~Handle() {
  if (ptr_ == nullptr) return;
  if constexpr (std::is_same_v<T, virConnect>) {
    // Dropping the last reference to a remote connection is an RPC: do not block the JS thread
    // (finalizers run there). Application code is expected to connectClose() explicitly anyway.
    T* p = ptr_;
    try {
      std::thread([p] { LvTraits<T>::Free(p); }).detach();
    } catch (const std::system_error&) {
      LvTraits<T>::Free(p);
    }
  } else {
    LvTraits<T>::Free(ptr_);
  }
}

template <typename T>
Napi::Function Handle<T>::DefineClass(Napi::Env env) {
  return Napi::ObjectWrap<Handle<T>>::DefineClass(env, LvTraits<T>::kClassName, {});
}

void InitHandles(Napi::Env env) {
  auto* classes = new HandleClasses();
  classes->constructors[LvTraits<virConnect>::kIndex] = Napi::Persistent(Handle<virConnect>::DefineClass(env));
  classes->constructors[LvTraits<virDomain>::kIndex] = Napi::Persistent(Handle<virDomain>::DefineClass(env));
  classes->constructors[LvTraits<virStoragePool>::kIndex] =
      Napi::Persistent(Handle<virStoragePool>::DefineClass(env));
  classes->constructors[LvTraits<virStorageVol>::kIndex] =
      Napi::Persistent(Handle<virStorageVol>::DefineClass(env));
  env.SetInstanceData(classes);
}

template <typename T>
Napi::Object Wrap(Napi::Env env, Owned<T> p) {
  Napi::Object obj = env.GetInstanceData<HandleClasses>()->constructors[LvTraits<T>::kIndex].New({});
  Handle<T>::Unwrap(obj)->Adopt(p.release());
  obj.TypeTag(&LvTraits<T>::kTag);
  return obj;
}

template <typename T>
Handle<T>* UnwrapHandle(Napi::Value value) {
  if (!value.IsObject()) return nullptr;
  Napi::Object obj = value.As<Napi::Object>();
  if (!obj.CheckTypeTag(&LvTraits<T>::kTag)) return nullptr;
  return Handle<T>::Unwrap(obj);
}

template class Handle<virConnect>;
template class Handle<virDomain>;
template class Handle<virStoragePool>;
template class Handle<virStorageVol>;
template Napi::Object Wrap(Napi::Env, Owned<virConnect>);
template Napi::Object Wrap(Napi::Env, Owned<virDomain>);
template Napi::Object Wrap(Napi::Env, Owned<virStoragePool>);
template Napi::Object Wrap(Napi::Env, Owned<virStorageVol>);
template Handle<virConnect>* UnwrapHandle(Napi::Value);
template Handle<virDomain>* UnwrapHandle(Napi::Value);
template Handle<virStoragePool>* UnwrapHandle(Napi::Value);
template Handle<virStorageVol>* UnwrapHandle(Napi::Value);

}  // namespace tenks
