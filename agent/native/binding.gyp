{
  "targets": [
    {
      "target_name": "tenks_libvirt",
      "sources": [
        "src/addon.cc",
        "src/args.cc",
        "src/connect.cc",
        "src/domain.cc",
        "src/errors.cc",
        "src/events.cc",
        "src/handles.cc",
        "src/storage.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_cc": [
        "-fexceptions",
        "-Wall",
        "-Wextra",
        "<!@(pkg-config --cflags libvirt)"
      ],
      "libraries": [
        "<!@(pkg-config --libs libvirt)"
      ]
    }
  ]
}
