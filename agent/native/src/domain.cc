// Domains.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "api.h"
#include "args.h"
#include "errors.h"
#include "handles.h"
#include "worker.h"

namespace tenks {

namespace {

const char* CStr(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }

Napi::Value WrapDomain(Napi::Env env, Owned<virDomain> dom) { return Wrap(env, std::move(dom)); }

// The common shape "dom -> void" with no flags (virDomainCreate etc.).
template <int (*Fn)(virDomainPtr)>
Napi::Value DomainAction(const Napi::CallbackInfo& info, const char* op) {
  Args args(info, op);
  return RunAsyncVoid(args.Env(), op, [dom = args.Domain(0)] { Check(Fn(dom.get())); });
}

// The common shape "dom, flags -> void" (virDomainDestroyFlags etc.).
template <int (*Fn)(virDomainPtr, unsigned int)>
Napi::Value DomainFlagsAction(const Napi::CallbackInfo& info, const char* op) {
  Args args(info, op);
  auto dom = args.Domain(0);
  unsigned int flags = args.Flags(1);
  return RunAsyncVoid(args.Env(), op, [dom = std::move(dom), flags] { Check(Fn(dom.get(), flags)); });
}

int Reset(virDomainPtr dom) { return virDomainReset(dom, 0); }
int InjectNmi(virDomainPtr dom) { return virDomainInjectNMI(dom, 0); }

}  // namespace

Napi::Value ConnectListAllDomains(const Napi::CallbackInfo& info) {
  Args args(info, "connectListAllDomains");
  auto conn = args.Conn(0);
  unsigned int flags = args.Flags(1);
  return RunAsync(
      args.Env(), args.Op(),
      [conn = std::move(conn), flags] {
        virDomainPtr* raw = nullptr;
        int n = Check(virConnectListAllDomains(conn.get(), &raw, flags));
        std::vector<Owned<virDomain>> list;
        list.reserve(n);
        for (int i = 0; i < n; i++) list.emplace_back(raw[i]);
        std::free(raw);
        return list;
      },
      [](Napi::Env env, std::vector<Owned<virDomain>> list) { return WrapAll(env, std::move(list)); });
}

Napi::Value DomainLookupByName(const Napi::CallbackInfo& info) {
  Args args(info, "domainLookupByName");
  auto conn = args.Conn(0);
  std::string name = args.String(1, "name");
  return RunAsync(
      args.Env(), args.Op(),
      [conn = std::move(conn), name] {
        return Owned<virDomain>(Check(virDomainLookupByName(conn.get(), name.c_str())));
      },
      WrapDomain);
}

Napi::Value DomainLookupByUuid(const Napi::CallbackInfo& info) {
  Args args(info, "domainLookupByUuid");
  auto conn = args.Conn(0);
  std::string uuid = args.String(1, "uuid");
  return RunAsync(
      args.Env(), args.Op(),
      [conn = std::move(conn), uuid] {
        return Owned<virDomain>(Check(virDomainLookupByUUIDString(conn.get(), uuid.c_str())));
      },
      WrapDomain);
}

Napi::Value DomainDefineXml(const Napi::CallbackInfo& info) {
  Args args(info, "domainDefineXml");
  auto conn = args.Conn(0);
  std::string xml = args.String(1, "xml");
  unsigned int flags = args.Flags(2);
  return RunAsync(
      args.Env(), args.Op(),
      [conn = std::move(conn), xml, flags] {
        return Owned<virDomain>(Check(virDomainDefineXMLFlags(conn.get(), xml.c_str(), flags)));
      },
      WrapDomain);
}

Napi::Value DomainUndefine(const Napi::CallbackInfo& info) {
  return DomainFlagsAction<virDomainUndefineFlags>(info, "domainUndefine");
}

Napi::Value DomainCreate(const Napi::CallbackInfo& info) { return DomainAction<virDomainCreate>(info, "domainCreate"); }

Napi::Value DomainDestroy(const Napi::CallbackInfo& info) {
  return DomainFlagsAction<virDomainDestroyFlags>(info, "domainDestroy");
}

Napi::Value DomainShutdown(const Napi::CallbackInfo& info) {
  return DomainFlagsAction<virDomainShutdownFlags>(info, "domainShutdown");
}

Napi::Value DomainReset(const Napi::CallbackInfo& info) { return DomainAction<Reset>(info, "domainReset"); }

Napi::Value DomainInjectNmi(const Napi::CallbackInfo& info) { return DomainAction<InjectNmi>(info, "domainInjectNmi"); }

Napi::Value DomainGetState(const Napi::CallbackInfo& info) {
  Args args(info, "domainGetState");
  struct State {
    int state;
    int reason;
  };
  return RunAsync(
      args.Env(), args.Op(),
      [dom = args.Domain(0)] {
        State s{};
        Check(virDomainGetState(dom.get(), &s.state, &s.reason, 0));
        return s;
      },
      [](Napi::Env env, State s) {
        Napi::Object obj = Napi::Object::New(env);
        obj.Set("state", Napi::Number::New(env, s.state));
        obj.Set("reason", Napi::Number::New(env, s.reason));
        return obj;
      });
}

Napi::Value DomainIsActive(const Napi::CallbackInfo& info) {
  Args args(info, "domainIsActive");
  return RunAsync(
      args.Env(), args.Op(), [dom = args.Domain(0)] { return Check(virDomainIsActive(dom.get())) == 1; },
      [](Napi::Env env, bool active) { return Napi::Boolean::New(env, active); });
}

Napi::Value DomainGetXmlDesc(const Napi::CallbackInfo& info) {
  Args args(info, "domainGetXmlDesc");
  auto dom = args.Domain(0);
  unsigned int flags = args.Flags(1);
  return RunAsync(
      args.Env(), args.Op(),
      [dom = std::move(dom), flags] { return TakeString(virDomainGetXMLDesc(dom.get(), flags)); },
      [](Napi::Env env, const std::string& xml) { return Napi::String::New(env, xml); });
}

Napi::Value DomainGetMetadata(const Napi::CallbackInfo& info) {
  Args args(info, "domainGetMetadata");
  auto dom = args.Domain(0);
  int type = args.Int(1, "type");
  auto uri = args.NullableString(2, "uri");
  unsigned int flags = args.Flags(3);
  return RunAsync(
      args.Env(), args.Op(),
      [dom = std::move(dom), type, uri, flags]() -> std::optional<std::string> {
        char* xml = virDomainGetMetadata(dom.get(), type, CStr(uri), flags);
        if (xml == nullptr) {
          virErrorPtr err = virGetLastError();
          if (err != nullptr && err->code == VIR_ERR_NO_DOMAIN_METADATA) {
            virResetLastError();
            return std::nullopt;
          }
        }
        return TakeString(xml);
      },
      [](Napi::Env env, const std::optional<std::string>& xml) -> Napi::Value {
        if (!xml) return env.Null();
        return Napi::String::New(env, *xml);
      });
}

Napi::Value DomainSetMetadata(const Napi::CallbackInfo& info) {
  Args args(info, "domainSetMetadata");
  auto dom = args.Domain(0);
  int type = args.Int(1, "type");
  auto metadata = args.NullableString(2, "metadata");
  auto key = args.NullableString(3, "key");
  auto uri = args.NullableString(4, "uri");
  unsigned int flags = args.Flags(5);
  return RunAsyncVoid(args.Env(), args.Op(), [dom = std::move(dom), type, metadata, key, uri, flags] {
    Check(virDomainSetMetadata(dom.get(), type, CStr(metadata), CStr(key), CStr(uri), flags));
  });
}

Napi::Value DomainUpdateDevice(const Napi::CallbackInfo& info) {
  Args args(info, "domainUpdateDevice");
  auto dom = args.Domain(0);
  std::string xml = args.String(1, "xml");
  unsigned int flags = args.Flags(2);
  return RunAsyncVoid(args.Env(), args.Op(), [dom = std::move(dom), xml, flags] {
    Check(virDomainUpdateDeviceFlags(dom.get(), xml.c_str(), flags));
  });
}

Napi::Value DomainGetName(const Napi::CallbackInfo& info) {
  Args args(info, "domainGetName");
  const char* name = virDomainGetName(args.Object<virDomain>(0)->get());
  if (name == nullptr) throw MakeError(args.Env(), TakeLastError(), args.Op());
  return Napi::String::New(args.Env(), name);
}

Napi::Value DomainGetUuid(const Napi::CallbackInfo& info) {
  Args args(info, "domainGetUuid");
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(args.Object<virDomain>(0)->get(), uuid) < 0)
    throw MakeError(args.Env(), TakeLastError(), args.Op());
  return Napi::String::New(args.Env(), uuid);
}

}  // namespace tenks
