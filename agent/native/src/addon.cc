// Module entry point: libvirt setup and the export table (contract: agent/native/native.ts).
#include <libvirt/libvirt.h>
#include <napi.h>

#include "api.h"
#include "errors.h"
#include "handles.h"

namespace tenks {

namespace {

// Calls `Fn`; a Rejection thrown during argument checks becomes a rejected promise.
template <Export Fn>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const Rejection& rejection) {
    auto deferred = Napi::Promise::Deferred::New(info.Env());
    deferred.Reject(MakeError(info.Env(), rejection.info, rejection.op).Value());
    return deferred.Promise();
  }
}

template <Export Fn>
void Add(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New<Guarded<Fn>>(env, name));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (virInitialize() < 0) throw MakeError(env, TakeLastError(), "init");
  SilenceLibvirtErrors();
  InitHandles(env);

  Add<GetVersion>(env, exports, "getVersion");
  Add<EventLoopStart>(env, exports, "eventLoopStart");

  Add<ConnectOpen>(env, exports, "connectOpen");
  Add<ConnectClose>(env, exports, "connectClose");
  Add<ConnectSetKeepAlive>(env, exports, "connectSetKeepAlive");
  Add<ConnectIsAlive>(env, exports, "connectIsAlive");
  Add<ConnectGetUri>(env, exports, "connectGetUri");
  Add<ConnectGetHostname>(env, exports, "connectGetHostname");
  Add<ConnectGetVersion>(env, exports, "connectGetVersion");
  Add<ConnectGetLibVersion>(env, exports, "connectGetLibVersion");
  Add<ConnectGetCapabilities>(env, exports, "connectGetCapabilities");
  Add<ConnectGetDomainCapabilities>(env, exports, "connectGetDomainCapabilities");
  Add<NodeGetInfo>(env, exports, "nodeGetInfo");
  Add<NodeGetFreeMemory>(env, exports, "nodeGetFreeMemory");

  Add<ConnectListAllDomains>(env, exports, "connectListAllDomains");
  Add<DomainLookupByName>(env, exports, "domainLookupByName");
  Add<DomainLookupByUuid>(env, exports, "domainLookupByUuid");
  Add<DomainDefineXml>(env, exports, "domainDefineXml");
  Add<DomainUndefine>(env, exports, "domainUndefine");
  Add<DomainCreate>(env, exports, "domainCreate");
  Add<DomainDestroy>(env, exports, "domainDestroy");
  Add<DomainShutdown>(env, exports, "domainShutdown");
  Add<DomainReset>(env, exports, "domainReset");
  Add<DomainInjectNmi>(env, exports, "domainInjectNmi");
  Add<DomainGetState>(env, exports, "domainGetState");
  Add<DomainIsActive>(env, exports, "domainIsActive");
  Add<DomainGetXmlDesc>(env, exports, "domainGetXmlDesc");
  Add<DomainGetMetadata>(env, exports, "domainGetMetadata");
  Add<DomainSetMetadata>(env, exports, "domainSetMetadata");
  Add<DomainUpdateDevice>(env, exports, "domainUpdateDevice");
  Add<DomainGetName>(env, exports, "domainGetName");
  Add<DomainGetUuid>(env, exports, "domainGetUuid");

  Add<DomainEventRegisterLifecycle>(env, exports, "domainEventRegisterLifecycle");
  Add<DomainEventDeregister>(env, exports, "domainEventDeregister");

  Add<ConnectListAllStoragePools>(env, exports, "connectListAllStoragePools");
  Add<StoragePoolLookupByName>(env, exports, "storagePoolLookupByName");
  Add<StoragePoolDefineXml>(env, exports, "storagePoolDefineXml");
  Add<StoragePoolBuild>(env, exports, "storagePoolBuild");
  Add<StoragePoolCreate>(env, exports, "storagePoolCreate");
  Add<StoragePoolDestroy>(env, exports, "storagePoolDestroy");
  Add<StoragePoolUndefine>(env, exports, "storagePoolUndefine");
  Add<StoragePoolDelete>(env, exports, "storagePoolDelete");
  Add<StoragePoolSetAutostart>(env, exports, "storagePoolSetAutostart");
  Add<StoragePoolIsActive>(env, exports, "storagePoolIsActive");
  Add<StoragePoolRefresh>(env, exports, "storagePoolRefresh");
  Add<StoragePoolGetInfo>(env, exports, "storagePoolGetInfo");
  Add<StoragePoolGetXmlDesc>(env, exports, "storagePoolGetXmlDesc");
  Add<StoragePoolListAllVolumes>(env, exports, "storagePoolListAllVolumes");
  Add<StoragePoolGetName>(env, exports, "storagePoolGetName");

  Add<StorageVolLookupByName>(env, exports, "storageVolLookupByName");
  Add<StorageVolCreateXml>(env, exports, "storageVolCreateXml");
  Add<StorageVolCreateXmlFrom>(env, exports, "storageVolCreateXmlFrom");
  Add<StorageVolUpload>(env, exports, "storageVolUpload");
  Add<StorageVolDelete>(env, exports, "storageVolDelete");
  Add<StorageVolResize>(env, exports, "storageVolResize");
  Add<StorageVolGetInfo>(env, exports, "storageVolGetInfo");
  Add<StorageVolGetPath>(env, exports, "storageVolGetPath");
  Add<StorageVolGetXmlDesc>(env, exports, "storageVolGetXmlDesc");
  Add<StorageVolGetName>(env, exports, "storageVolGetName");
  return exports;
}

}  // namespace tenks

static Napi::Object InitTenksLibvirt(Napi::Env env, Napi::Object exports) { return tenks::Init(env, exports); }

NODE_API_MODULE(tenks_libvirt, InitTenksLibvirt)
