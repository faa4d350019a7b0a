# The external-memory benchmark's addon: a consumer of native_memwatch.h, built the
# way any third-party addon is, so its calls go through the published function table.
{
  "targets": [
    {
      "target_name": "bench_external",
      "sources": ["bench_external.c"],
      "include_dirs": ["<!@(node -p \"require('native-memwatch/include').include\")"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=c11", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
