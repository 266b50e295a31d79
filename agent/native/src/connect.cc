// Connections and host information.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstring>
#include <optional>
#include <string>

#include "api.h"
#include "args.h"
#include "errors.h"
#include "handles.h"
#include "worker.h"

namespace tenks {

namespace {

Napi::Value ToNumber(Napi::Env env, double v) { return Napi::Number::New(env, v); }
Napi::Value ToString(Napi::Env env, const std::string& s) { return Napi::String::New(env, s); }
Napi::Value ToBoolean(Napi::Env env, bool b) { return Napi::Boolean::New(env, b); }

// The common shape "conn -> string" (virConnectGetURI etc.).
template <char* (*Fn)(virConnectPtr)>
Napi::Value ConnString(const Napi::CallbackInfo& info, const char* op) {
  Args args(info, op);
  return RunAsync(args.Env(), op, [conn = args.Conn(0)] { return TakeString(Fn(conn.get())); }, ToString);
}

}  // namespace

Napi::Value GetVersion(const Napi::CallbackInfo& info) {
  unsigned long version = 0;
  if (virGetVersion(&version, nullptr, nullptr) < 0) throw MakeError(info.Env(), TakeLastError(), "getVersion");
  return Napi::Number::New(info.Env(), static_cast<double>(version));
}

Napi::Value ConnectOpen(const Napi::CallbackInfo& info) {
  Args args(info, "connectOpen");
  std::string uri = args.String(0, "uri");
  try {
    EnsureEventLoop();
  } catch (const LibvirtFailure& failure) {
    throw Rejection{args.Op(), failure.info};
  }
  return RunAsync(
      args.Env(), args.Op(), [uri] { return Owned<virConnect>(Check(virConnectOpen(uri.c_str()))); },
      [](Napi::Env env, Owned<virConnect> conn) { return Wrap(env, std::move(conn)); });
}

Napi::Value ConnectClose(const Napi::CallbackInfo& info) {
  Args args(info, "connectClose");
  Handle<virConnect>* handle = args.ConnHandle(0);
  // Detach the reference from the handle now, so later calls on it fail cleanly; closing an
  // already closed handle is a no-op. Workers still running hold their own references.
  Owned<virConnect> conn = handle->Take();
  if (!conn) {
    auto deferred = Napi::Promise::Deferred::New(args.Env());
    deferred.Resolve(args.Env().Undefined());
    return deferred.Promise();
  }
  return RunAsyncVoid(args.Env(), args.Op(), [conn = std::move(conn)]() mutable {
    Check(virConnectClose(conn.release()));
  });
}

Napi::Value ConnectSetKeepAlive(const Napi::CallbackInfo& info) {
  Args args(info, "connectSetKeepAlive");
  auto conn = args.Conn(0);
  int interval = args.Int(1, "intervalS");
  unsigned int count = args.Flags(2, "count");
  // rc 1 means the peer does not support keepalive: not an error.
  return RunAsyncVoid(args.Env(), args.Op(), [conn = std::move(conn), interval, count] {
    Check(virConnectSetKeepAlive(conn.get(), interval, count));
  });
}

Napi::Value ConnectIsAlive(const Napi::CallbackInfo& info) {
  Args args(info, "connectIsAlive");
  return RunAsync(
      args.Env(), args.Op(), [conn = args.Conn(0)] { return Check(virConnectIsAlive(conn.get())) == 1; },
      ToBoolean);
}

Napi::Value ConnectGetUri(const Napi::CallbackInfo& info) {
  return ConnString<virConnectGetURI>(info, "connectGetUri");
}

Napi::Value ConnectGetHostname(const Napi::CallbackInfo& info) {
  return ConnString<virConnectGetHostname>(info, "connectGetHostname");
}

Napi::Value ConnectGetCapabilities(const Napi::CallbackInfo& info) {
  return ConnString<virConnectGetCapabilities>(info, "connectGetCapabilities");
}

Napi::Value ConnectGetVersion(const Napi::CallbackInfo& info) {
  Args args(info, "connectGetVersion");
  return RunAsync(
      args.Env(), args.Op(),
      [conn = args.Conn(0)] {
        unsigned long version = 0;
        Check(virConnectGetVersion(conn.get(), &version));
        return static_cast<double>(version);
      },
      ToNumber);
}

Napi::Value ConnectGetLibVersion(const Napi::CallbackInfo& info) {
  Args args(info, "connectGetLibVersion");
  return RunAsync(
      args.Env(), args.Op(),
      [conn = args.Conn(0)] {
        unsigned long version = 0;
        Check(virConnectGetLibVersion(conn.get(), &version));
        return static_cast<double>(version);
      },
      ToNumber);
}

Napi::Value ConnectGetDomainCapabilities(const Napi::CallbackInfo& info) {
  Args args(info, "connectGetDomainCapabilities");
  auto conn = args.Conn(0);
  auto emulator = args.NullableString(1, "emulatorBin");
  auto arch = args.NullableString(2, "arch");
  auto machine = args.NullableString(3, "machine");
  auto virtType = args.NullableString(4, "virtType");
  return RunAsync(
      args.Env(), args.Op(),
      [conn = std::move(conn), emulator, arch, machine, virtType] {
        auto cstr = [](const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; };
        return TakeString(virConnectGetDomainCapabilities(conn.get(), cstr(emulator), cstr(arch), cstr(machine),
                                                          cstr(virtType), 0));
      },
      ToString);
}

Napi::Value NodeGetInfo(const Napi::CallbackInfo& info) {
  Args args(info, "nodeGetInfo");
  return RunAsync(
      args.Env(), args.Op(),
      [conn = args.Conn(0)] {
        virNodeInfo node{};
        Check(virNodeGetInfo(conn.get(), &node));
        return node;
      },
      [](Napi::Env env, const virNodeInfo& node) {
        Napi::Object obj = Napi::Object::New(env);
        obj.Set("model", Napi::String::New(env, std::string(node.model, strnlen(node.model, sizeof node.model))));
        obj.Set("memoryKiB", Napi::Number::New(env, static_cast<double>(node.memory)));
        obj.Set("cpus", Napi::Number::New(env, node.cpus));
        obj.Set("mhz", Napi::Number::New(env, node.mhz));
        obj.Set("nodes", Napi::Number::New(env, node.nodes));
        obj.Set("sockets", Napi::Number::New(env, node.sockets));
        obj.Set("cores", Napi::Number::New(env, node.cores));
        obj.Set("threads", Napi::Number::New(env, node.threads));
        return obj;
      });
}

Napi::Value NodeGetFreeMemory(const Napi::CallbackInfo& info) {
  Args args(info, "nodeGetFreeMemory");
  return RunAsync(
      args.Env(), args.Op(),
      [conn = args.Conn(0)] {
        // 0 is both "no free memory" and the error return: tell them apart by the last error.
        virResetLastError();
        unsigned long long bytes = virNodeGetFreeMemory(conn.get());
        if (bytes == 0 && virGetLastError() != nullptr) ThrowLastError();
        return static_cast<double>(bytes);
      },
      ToNumber);
}

}  // namespace tenks
