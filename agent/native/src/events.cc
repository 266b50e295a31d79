// libvirt's event loop thread and domain lifecycle events delivered to JS.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api.h"
#include "args.h"
#include "errors.h"
#include "handles.h"
#include "worker.h"

namespace tenks {

namespace {

// ---- the event loop ------------------------------------------------------------------------

std::mutex g_loopMutex;
bool g_loopStarted = false;

// Runs libvirt's default event loop forever on a detached thread: it never keeps the process
// alive (exit() ends it with the process) and needs nothing from the JS side.
void RunEventLoop() {
  for (;;) {
    if (virEventRunDefaultImpl() < 0) {
      virResetLastError();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // do not spin on a broken loop
    }
  }
}

// ---- lifecycle events ----------------------------------------------------------------------

struct LifecycleEvent {
  std::string name;
  std::string uuid;
  int event;
  int detail;
};

// On the JS thread: hands one event to the callback. Takes ownership of `ev`.
void CallJs(Napi::Env env, Napi::Function callback, std::nullptr_t* /*context*/, LifecycleEvent* ev) {
  std::unique_ptr<LifecycleEvent> owned(ev);
  if (env == nullptr || callback == nullptr) return;  // the TSFN is being torn down
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("name", Napi::String::New(env, owned->name));
  obj.Set("uuid", Napi::String::New(env, owned->uuid));
  obj.Set("event", Napi::Number::New(env, owned->event));
  obj.Set("detail", Napi::Number::New(env, owned->detail));
  try {
    callback.Call({obj});
  } catch (const Napi::Error& e) {
    // Like a throwing event listener: report it as an uncaught exception (not swallowed).
    napi_fatal_exception(env, e.Value());
  }
}

using LifecycleTsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, LifecycleEvent, CallJs>;

// The link from one libvirt callback registration to its thread-safe function. Shared by the
// libvirt registration (released by its freecb) and the TSFN finalizer, so that whichever side
// goes first, the other never touches a dead TSFN (e.g. at process exit).
class LifecycleSink {
 public:
  void Attach(LifecycleTsfn tsfn) { tsfn_ = tsfn; }

  // Any thread: queues an event for JS unless the TSFN is gone.
  void Deliver(std::unique_ptr<LifecycleEvent> ev) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!open_) return;
    if (tsfn_.NonBlockingCall(ev.get()) == napi_ok) ev.release();
  }

  // Any thread: the registration is gone; release our use of the TSFN (it then finalizes).
  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!open_) return;
    open_ = false;
    tsfn_.Release();
  }

  // JS thread, from the TSFN finalizer: the TSFN no longer exists.
  void Finalized() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = false;
  }

 private:
  std::mutex mutex_;
  bool open_ = true;
  LifecycleTsfn tsfn_;
};

using SinkRef = std::shared_ptr<LifecycleSink>;

// libvirt's opaque for a registration: a heap SinkRef, deleted by FreeSinkRef.
void FreeSinkRef(void* opaque) {
  auto* ref = static_cast<SinkRef*>(opaque);
  (*ref)->Close();
  delete ref;
}

struct SinkRefDeleter {
  void operator()(SinkRef* ref) const { FreeSinkRef(ref); }
};

// On the event loop thread. `dom` is only valid during the call: copy what we need.
int OnLifecycle(virConnectPtr /*conn*/, virDomainPtr dom, int event, int detail, void* opaque) {
  try {
    auto ev = std::make_unique<LifecycleEvent>();
    const char* name = virDomainGetName(dom);
    ev->name = name != nullptr ? name : "";
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(dom, uuid) == 0) ev->uuid = uuid;
    ev->event = event;
    ev->detail = detail;
    (*static_cast<SinkRef*>(opaque))->Deliver(std::move(ev));
  } catch (...) {
    // Out of memory: drop the event rather than unwind through libvirt.
  }
  virResetLastError();
  return 0;
}

}  // namespace

void EnsureEventLoop() {
  std::lock_guard<std::mutex> lock(g_loopMutex);
  if (g_loopStarted) return;
  if (virEventRegisterDefaultImpl() < 0) ThrowLastError();
  std::thread(RunEventLoop).detach();
  g_loopStarted = true;
}

Napi::Value EventLoopStart(const Napi::CallbackInfo& info) {
  try {
    EnsureEventLoop();
  } catch (const LibvirtFailure& failure) {
    throw MakeError(info.Env(), failure.info, "eventLoopStart");
  }
  return info.Env().Undefined();
}

Napi::Value DomainEventRegisterLifecycle(const Napi::CallbackInfo& info) {
  Args args(info, "domainEventRegisterLifecycle");
  auto conn = args.Conn(0);
  Napi::Function onEvent = args.Function(1, "onEvent");

  auto sink = std::make_shared<LifecycleSink>();
  LifecycleTsfn tsfn = LifecycleTsfn::New(
      args.Env(), onEvent, "tenksDomainLifecycle", 0, 1, nullptr,
      [](Napi::Env, SinkRef* ref, std::nullptr_t*) {
        (*ref)->Finalized();
        delete ref;
      },
      new SinkRef(sink));
  tsfn.Unref(args.Env());  // never keeps the process alive
  sink->Attach(tsfn);

  // Owned by the worker until libvirt accepts it; then libvirt frees it through FreeSinkRef.
  std::unique_ptr<SinkRef, SinkRefDeleter> opaque(new SinkRef(sink));
  return RunAsync(
      args.Env(), args.Op(),
      [conn = std::move(conn), opaque = std::move(opaque)]() mutable {
        int id = Check(virConnectDomainEventRegisterAny(conn.get(), nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                        VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle), opaque.get(),
                                                        FreeSinkRef));
        opaque.release();
        return static_cast<double>(id);
      },
      [](Napi::Env env, double id) { return Napi::Number::New(env, id); });
}

Napi::Value DomainEventDeregister(const Napi::CallbackInfo& info) {
  Args args(info, "domainEventDeregister");
  auto conn = args.Conn(0);
  int id = args.Int(1, "callbackId");
  return RunAsyncVoid(args.Env(), args.Op(), [conn = std::move(conn), id] {
    Check(virConnectDomainEventDeregisterAny(conn.get(), id));
  });
}

}  // namespace tenks
