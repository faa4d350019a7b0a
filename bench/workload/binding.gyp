# The whole-program workload (issue 8): one addon source built three times,
# tracked (native_memwatch.h, through the published table), with plain malloc,
# and with plain malloc asked for the tracker's chunk sizes (workload.c).
{
  "targets": [
    {
      "target_name": "workload_tracked",
      "sources": ["workload.c"],
      "include_dirs": ["<!@(node -p \"require('native-memwatch/include').include\")"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=c11", "-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "workload_plain",
      "sources": ["workload.c"],
      "include_dirs": ["<!@(node -p \"require('native-memwatch/include').include\")"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE", "WORKLOAD_PLAIN"],
      "cflags_c": ["-std=c11", "-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "workload_padded",
      "sources": ["workload.c"],
      "include_dirs": ["<!@(node -p \"require('native-memwatch/include').include\")"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE", "WORKLOAD_PADDED"],
      "cflags_c": ["-std=c11", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
