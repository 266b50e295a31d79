// The exported functions (see agent/native/native.ts for the contract), by source file.
#pragma once

#include <napi.h>

namespace tenks {

using Export = Napi::Value (*)(const Napi::CallbackInfo&);

// connect.cc
Napi::Value GetVersion(const Napi::CallbackInfo& info);
Napi::Value ConnectOpen(const Napi::CallbackInfo& info);
Napi::Value ConnectClose(const Napi::CallbackInfo& info);
Napi::Value ConnectSetKeepAlive(const Napi::CallbackInfo& info);
Napi::Value ConnectIsAlive(const Napi::CallbackInfo& info);
Napi::Value ConnectGetUri(const Napi::CallbackInfo& info);
Napi::Value ConnectGetHostname(const Napi::CallbackInfo& info);
Napi::Value ConnectGetVersion(const Napi::CallbackInfo& info);
Napi::Value ConnectGetLibVersion(const Napi::CallbackInfo& info);
Napi::Value ConnectGetCapabilities(const Napi::CallbackInfo& info);
Napi::Value ConnectGetDomainCapabilities(const Napi::CallbackInfo& info);
Napi::Value NodeGetInfo(const Napi::CallbackInfo& info);
Napi::Value NodeGetFreeMemory(const Napi::CallbackInfo& info);

// domain.cc
Napi::Value ConnectListAllDomains(const Napi::CallbackInfo& info);
Napi::Value DomainLookupByName(const Napi::CallbackInfo& info);
Napi::Value DomainLookupByUuid(const Napi::CallbackInfo& info);
Napi::Value DomainDefineXml(const Napi::CallbackInfo& info);
Napi::Value DomainUndefine(const Napi::CallbackInfo& info);
Napi::Value DomainCreate(const Napi::CallbackInfo& info);
Napi::Value DomainDestroy(const Napi::CallbackInfo& info);
Napi::Value DomainShutdown(const Napi::CallbackInfo& info);
Napi::Value DomainReset(const Napi::CallbackInfo& info);
Napi::Value DomainInjectNmi(const Napi::CallbackInfo& info);
Napi::Value DomainGetState(const Napi::CallbackInfo& info);
Napi::Value DomainIsActive(const Napi::CallbackInfo& info);
Napi::Value DomainGetXmlDesc(const Napi::CallbackInfo& info);
Napi::Value DomainGetMetadata(const Napi::CallbackInfo& info);
Napi::Value DomainSetMetadata(const Napi::CallbackInfo& info);
Napi::Value DomainUpdateDevice(const Napi::CallbackInfo& info);
Napi::Value DomainGetName(const Napi::CallbackInfo& info);
Napi::Value DomainGetUuid(const Napi::CallbackInfo& info);

// events.cc
Napi::Value EventLoopStart(const Napi::CallbackInfo& info);
Napi::Value DomainEventRegisterLifecycle(const Napi::CallbackInfo& info);
Napi::Value DomainEventDeregister(const Napi::CallbackInfo& info);

// storage.cc
Napi::Value ConnectListAllStoragePools(const Napi::CallbackInfo& info);
Napi::Value StoragePoolLookupByName(const Napi::CallbackInfo& info);
Napi::Value StoragePoolDefineXml(const Napi::CallbackInfo& info);
Napi::Value StoragePoolBuild(const Napi::CallbackInfo& info);
Napi::Value StoragePoolCreate(const Napi::CallbackInfo& info);
Napi::Value StoragePoolDestroy(const Napi::CallbackInfo& info);
Napi::Value StoragePoolUndefine(const Napi::CallbackInfo& info);
Napi::Value StoragePoolDelete(const Napi::CallbackInfo& info);
Napi::Value StoragePoolSetAutostart(const Napi::CallbackInfo& info);
Napi::Value StoragePoolIsActive(const Napi::CallbackInfo& info);
Napi::Value StoragePoolRefresh(const Napi::CallbackInfo& info);
Napi::Value StoragePoolGetInfo(const Napi::CallbackInfo& info);
Napi::Value StoragePoolGetXmlDesc(const Napi::CallbackInfo& info);
Napi::Value StoragePoolListAllVolumes(const Napi::CallbackInfo& info);
Napi::Value StoragePoolGetName(const Napi::CallbackInfo& info);
Napi::Value StorageVolLookupByName(const Napi::CallbackInfo& info);
Napi::Value StorageVolCreateXml(const Napi::CallbackInfo& info);
Napi::Value StorageVolCreateXmlFrom(const Napi::CallbackInfo& info);
Napi::Value StorageVolUpload(const Napi::CallbackInfo& info);
Napi::Value StorageVolDelete(const Napi::CallbackInfo& info);
Napi::Value StorageVolResize(const Napi::CallbackInfo& info);
Napi::Value StorageVolGetInfo(const Napi::CallbackInfo& info);
Napi::Value StorageVolGetPath(const Napi::CallbackInfo& info);
Napi::Value StorageVolGetXmlDesc(const Napi::CallbackInfo& info);
Napi::Value StorageVolGetName(const Napi::CallbackInfo& info);

// events.cc, used by ConnectOpen: starts the event loop thread once (throws LibvirtFailure).
void EnsureEventLoop();

}  // namespace tenks
