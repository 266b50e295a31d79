// Storage pools and volumes.
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "api.h"
#include "args.h"
#include "errors.h"
#include "handles.h"
#include "worker.h"

namespace tenks {

namespace {

Napi::Value WrapPool(Napi::Env env, Owned<virStoragePool> pool) { return Wrap(env, std::move(pool)); }
Napi::Value WrapVolume(Napi::Env env, Owned<virStorageVol> vol) { return Wrap(env, std::move(vol)); }
Napi::Value ToString(Napi::Env env, const std::string& s) { return Napi::String::New(env, s); }
Napi::Value ToBoolean(Napi::Env env, bool b) { return Napi::Boolean::New(env, b); }

// The common shape "pool -> void" (virStoragePoolDestroy etc.).
template <int (*Fn)(virStoragePoolPtr)>
Napi::Value PoolAction(const Napi::CallbackInfo& info, const char* op) {
  Args args(info, op);
  return RunAsyncVoid(args.Env(), op, [pool = args.Pool(0)] { Check(Fn(pool.get())); });
}

// The common shape "pool, flags -> void" (virStoragePoolBuild etc.).
template <int (*Fn)(virStoragePoolPtr, unsigned int)>
Napi::Value PoolFlagsAction(const Napi::CallbackInfo& info, const char* op) {
  Args args(info, op);
  auto pool = args.Pool(0);
  unsigned int flags = args.Flags(1);
  return RunAsyncVoid(args.Env(), op, [pool = std::move(pool), flags] { Check(Fn(pool.get(), flags)); });
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void ThrowErrno(const std::string& what, int err) {
  throw LibvirtFailure(ErrorInfo::Addon(what + ": " + std::strerror(err)));
}

// Feeds virStreamSendAll from a file, at most `size` bytes.
struct FileSource {
  int fd;
  unsigned long long size;
  unsigned long long sent = 0;
  int readErrno = 0;

  static int Read(virStreamPtr /*st*/, char* data, size_t nbytes, void* opaque) {
    auto* src = static_cast<FileSource*>(opaque);
    size_t want = static_cast<size_t>(std::min<unsigned long long>(nbytes, src->size - src->sent));
    if (want == 0) return 0;
    for (;;) {
      ssize_t got = read(src->fd, data, want);
      if (got >= 0) {
        src->sent += static_cast<unsigned long long>(got);
        return static_cast<int>(got);
      }
      if (errno != EINTR) {
        src->readErrno = errno;
        return -1;
      }
    }
  }
};

// Runs on a pool thread: uploads the whole file at `path` into `vol`; returns the bytes sent.
unsigned long long UploadFile(virStorageVolPtr vol, const std::string& path, unsigned int flags) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) ThrowErrno("cannot open '" + path + "'", errno);
  struct stat st {};
  if (fstat(fd.get(), &st) < 0) ThrowErrno("cannot stat '" + path + "'", errno);
  FileSource source{fd.get(), static_cast<unsigned long long>(st.st_size)};

  virConnectPtr conn = Check(virStorageVolGetConnect(vol));  // borrowed: `vol` holds a reference
  Owned<virStream> stream(Check(virStreamNew(conn, 0)));
  Check(virStorageVolUpload(vol, stream.get(), 0, source.size, flags));
  if (virStreamSendAll(stream.get(), FileSource::Read, &source) < 0) {
    // virStreamSendAll has already aborted the stream.
    ErrorInfo err = TakeLastError();
    if (source.readErrno != 0) ThrowErrno("cannot read '" + path + "'", source.readErrno);
    throw LibvirtFailure(err);
  }
  if (virStreamFinish(stream.get()) < 0) {
    ErrorInfo err = TakeLastError();
    virStreamAbort(stream.get());
    virResetLastError();
    throw LibvirtFailure(err);
  }
  return source.sent;
}

}  // namespace

Napi::Value ConnectListAllStoragePools(const Napi::CallbackInfo& info) {
  Args args(info, "connectListAllStoragePools");
  auto conn = args.Conn(0);
  unsigned int flags = args.Flags(1);
  return RunAsync(
      args.Env(), args.Op(),
      [conn = std::move(conn), flags] {
        virStoragePoolPtr* raw = nullptr;
        int n = Check(virConnectListAllStoragePools(conn.get(), &raw, flags));
        std::vector<Owned<virStoragePool>> list;
        list.reserve(n);
        for (int i = 0; i < n; i++) list.emplace_back(raw[i]);
        std::free(raw);
        return list;
      },
      [](Napi::Env env, std::vector<Owned<virStoragePool>> list) { return WrapAll(env, std::move(list)); });
}

Napi::Value StoragePoolLookupByName(const Napi::CallbackInfo& info) {
  Args args(info, "storagePoolLookupByName");
  auto conn = args.Conn(0);
  std::string name = args.String(1, "name");
  return RunAsync(
      args.Env(), args.Op(),
      [conn = std::move(conn), name] {
        return Owned<virStoragePool>(Check(virStoragePoolLookupByName(conn.get(), name.c_str())));
      },
      WrapPool);
}

Napi::Value StoragePoolDefineXml(const Napi::CallbackInfo& info) {
  Args args(info, "storagePoolDefineXml");
  auto conn = args.Conn(0);
  std::string xml = args.String(1, "xml");
  unsigned int flags = args.Flags(2);
  return RunAsync(
      args.Env(), args.Op(),
      [conn = std::move(conn), xml, flags] {
        return Owned<virStoragePool>(Check(virStoragePoolDefineXML(conn.get(), xml.c_str(), flags)));
      },
      WrapPool);
}

Napi::Value StoragePoolBuild(const Napi::CallbackInfo& info) {
  return PoolFlagsAction<virStoragePoolBuild>(info, "storagePoolBuild");
}

Napi::Value StoragePoolCreate(const Napi::CallbackInfo& info) {
  return PoolFlagsAction<virStoragePoolCreate>(info, "storagePoolCreate");
}

Napi::Value StoragePoolDestroy(const Napi::CallbackInfo& info) {
  return PoolAction<virStoragePoolDestroy>(info, "storagePoolDestroy");
}

Napi::Value StoragePoolUndefine(const Napi::CallbackInfo& info) {
  return PoolAction<virStoragePoolUndefine>(info, "storagePoolUndefine");
}

Napi::Value StoragePoolDelete(const Napi::CallbackInfo& info) {
  return PoolFlagsAction<virStoragePoolDelete>(info, "storagePoolDelete");
}

Napi::Value StoragePoolSetAutostart(const Napi::CallbackInfo& info) {
  Args args(info, "storagePoolSetAutostart");
  auto pool = args.Pool(0);
  bool autostart = args.Bool(1, "autostart");
  return RunAsyncVoid(args.Env(), args.Op(), [pool = std::move(pool), autostart] {
    Check(virStoragePoolSetAutostart(pool.get(), autostart ? 1 : 0));
  });
}

Napi::Value StoragePoolIsActive(const Napi::CallbackInfo& info) {
  Args args(info, "storagePoolIsActive");
  return RunAsync(
      args.Env(), args.Op(), [pool = args.Pool(0)] { return Check(virStoragePoolIsActive(pool.get())) == 1; },
      ToBoolean);
}

Napi::Value StoragePoolRefresh(const Napi::CallbackInfo& info) {
  return PoolFlagsAction<virStoragePoolRefresh>(info, "storagePoolRefresh");
}

Napi::Value StoragePoolGetInfo(const Napi::CallbackInfo& info) {
  Args args(info, "storagePoolGetInfo");
  return RunAsync(
      args.Env(), args.Op(),
      [pool = args.Pool(0)] {
        virStoragePoolInfo pi{};
        Check(virStoragePoolGetInfo(pool.get(), &pi));
        return pi;
      },
      [](Napi::Env env, const virStoragePoolInfo& pi) {
        Napi::Object obj = Napi::Object::New(env);
        obj.Set("state", Napi::Number::New(env, pi.state));
        obj.Set("capacityBytes", Napi::Number::New(env, static_cast<double>(pi.capacity)));
        obj.Set("allocationBytes", Napi::Number::New(env, static_cast<double>(pi.allocation)));
        obj.Set("availableBytes", Napi::Number::New(env, static_cast<double>(pi.available)));
        return obj;
      });
}

Napi::Value StoragePoolGetXmlDesc(const Napi::CallbackInfo& info) {
  Args args(info, "storagePoolGetXmlDesc");
  auto pool = args.Pool(0);
  unsigned int flags = args.Flags(1);
  return RunAsync(
      args.Env(), args.Op(),
      [pool = std::move(pool), flags] { return TakeString(virStoragePoolGetXMLDesc(pool.get(), flags)); },
      ToString);
}

Napi::Value StoragePoolListAllVolumes(const Napi::CallbackInfo& info) {
  Args args(info, "storagePoolListAllVolumes");
  auto pool = args.Pool(0);
  unsigned int flags = args.Flags(1);
  return RunAsync(
      args.Env(), args.Op(),
      [pool = std::move(pool), flags] {
        virStorageVolPtr* raw = nullptr;
        int n = Check(virStoragePoolListAllVolumes(pool.get(), &raw, flags));
        std::vector<Owned<virStorageVol>> list;
        list.reserve(n);
        for (int i = 0; i < n; i++) list.emplace_back(raw[i]);
        std::free(raw);
        return list;
      },
      [](Napi::Env env, std::vector<Owned<virStorageVol>> list) { return WrapAll(env, std::move(list)); });
}

Napi::Value StoragePoolGetName(const Napi::CallbackInfo& info) {
  Args args(info, "storagePoolGetName");
  const char* name = virStoragePoolGetName(args.Object<virStoragePool>(0)->get());
  if (name == nullptr) throw MakeError(args.Env(), TakeLastError(), args.Op());
  return Napi::String::New(args.Env(), name);
}

Napi::Value StorageVolLookupByName(const Napi::CallbackInfo& info) {
  Args args(info, "storageVolLookupByName");
  auto pool = args.Pool(0);
  std::string name = args.String(1, "name");
  return RunAsync(
      args.Env(), args.Op(),
      [pool = std::move(pool), name] {
        return Owned<virStorageVol>(Check(virStorageVolLookupByName(pool.get(), name.c_str())));
      },
      WrapVolume);
}

Napi::Value StorageVolCreateXml(const Napi::CallbackInfo& info) {
  Args args(info, "storageVolCreateXml");
  auto pool = args.Pool(0);
  std::string xml = args.String(1, "xml");
  unsigned int flags = args.Flags(2);
  return RunAsync(
      args.Env(), args.Op(),
      [pool = std::move(pool), xml, flags] {
        return Owned<virStorageVol>(Check(virStorageVolCreateXML(pool.get(), xml.c_str(), flags)));
      },
      WrapVolume);
}

Napi::Value StorageVolCreateXmlFrom(const Napi::CallbackInfo& info) {
  Args args(info, "storageVolCreateXmlFrom");
  auto pool = args.Pool(0);
  std::string xml = args.String(1, "xml");
  auto source = args.Volume(2);
  unsigned int flags = args.Flags(3);
  return RunAsync(
      args.Env(), args.Op(),
      [pool = std::move(pool), xml, source = std::move(source), flags] {
        return Owned<virStorageVol>(
            Check(virStorageVolCreateXMLFrom(pool.get(), xml.c_str(), source.get(), flags)));
      },
      WrapVolume);
}

Napi::Value StorageVolUpload(const Napi::CallbackInfo& info) {
  Args args(info, "storageVolUpload");
  auto vol = args.Volume(0);
  std::string path = args.String(1, "path");
  unsigned int flags = args.Flags(2);
  return RunAsync(
      args.Env(), args.Op(),
      [vol = std::move(vol), path, flags] { return static_cast<double>(UploadFile(vol.get(), path, flags)); },
      [](Napi::Env env, double sent) { return Napi::Number::New(env, sent); });
}

Napi::Value StorageVolDelete(const Napi::CallbackInfo& info) {
  Args args(info, "storageVolDelete");
  auto vol = args.Volume(0);
  unsigned int flags = args.Flags(1);
  return RunAsyncVoid(args.Env(), args.Op(),
                      [vol = std::move(vol), flags] { Check(virStorageVolDelete(vol.get(), flags)); });
}

Napi::Value StorageVolResize(const Napi::CallbackInfo& info) {
  Args args(info, "storageVolResize");
  auto vol = args.Volume(0);
  unsigned long long capacity = args.Size(1, "capacityBytes");
  unsigned int flags = args.Flags(2);
  return RunAsyncVoid(args.Env(), args.Op(), [vol = std::move(vol), capacity, flags] {
    Check(virStorageVolResize(vol.get(), capacity, flags));
  });
}

Napi::Value StorageVolGetInfo(const Napi::CallbackInfo& info) {
  Args args(info, "storageVolGetInfo");
  return RunAsync(
      args.Env(), args.Op(),
      [vol = args.Volume(0)] {
        virStorageVolInfo vi{};
        Check(virStorageVolGetInfo(vol.get(), &vi));
        return vi;
      },
      [](Napi::Env env, const virStorageVolInfo& vi) {
        Napi::Object obj = Napi::Object::New(env);
        obj.Set("type", Napi::Number::New(env, vi.type));
        obj.Set("capacityBytes", Napi::Number::New(env, static_cast<double>(vi.capacity)));
        obj.Set("allocationBytes", Napi::Number::New(env, static_cast<double>(vi.allocation)));
        return obj;
      });
}

Napi::Value StorageVolGetPath(const Napi::CallbackInfo& info) {
  Args args(info, "storageVolGetPath");
  return RunAsync(
      args.Env(), args.Op(), [vol = args.Volume(0)] { return TakeString(virStorageVolGetPath(vol.get())); },
      ToString);
}

Napi::Value StorageVolGetXmlDesc(const Napi::CallbackInfo& info) {
  Args args(info, "storageVolGetXmlDesc");
  auto vol = args.Volume(0);
  unsigned int flags = args.Flags(1);
  return RunAsync(
      args.Env(), args.Op(),
      [vol = std::move(vol), flags] { return TakeString(virStorageVolGetXMLDesc(vol.get(), flags)); }, ToString);
}

Napi::Value StorageVolGetName(const Napi::CallbackInfo& info) {
  Args args(info, "storageVolGetName");
  const char* name = virStorageVolGetName(args.Object<virStorageVol>(0)->get());
  if (name == nullptr) throw MakeError(args.Env(), TakeLastError(), args.Op());
  return Napi::String::New(args.Env(), name);
}

}  // namespace tenks
