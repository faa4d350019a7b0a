{
  "targets": [
    {
      "target_name": "native_memwatch",
      "sources": [
        "src/core/tags.c",
        "src/core/slots.c",
        "src/core/shards.c",
        "src/core/alloc.c",
        "src/core/track.c",
        "src/core/misuse.c",
        "src/core/stats.c",
        "src/core/region.c",
        "src/core/owner.c",
        "src/core/external.c",
        "src/core/finalizers.c",
        "src/core/elf_patch.c",
        "src/core/attach_registry.c",
        "src/core/procmem.c",
        "src/core/heapsnap_parse.c",
        "src/core/heapsnap_graph.c",
        "src/addon/addon.c",
        "src/addon/api_table.c",
        "src/addon/napi_util.c",
        "src/addon/js_tags.c",
        "src/addon/js_stats.c",
        "src/addon/js_regions.c",
        "src/addon/js_external.c",
        "src/addon/env_owner.c",
        "src/addon/pin.c",
        "src/addon/finalizers.c",
        "src/addon/attach.c",
        "src/addon/attach_hooks.c",
        "src/addon/js_procmem.c",
        "src/addon/js_heapsnap.c"
      ],
      "include_dirs": ["include"],
      "conditions": [["OS=='linux'", { "libraries": ["-ldl"] }]],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": [
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-fvisibility=hidden",
        "-ftls-model=initial-exec"
      ],
      "cflags_c": [
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror=implicit-function-declaration",
        "-fvisibility=hidden",
        "-ftls-model=initial-exec"
      ],
      "xcode_settings": {
        "GCC_C_LANGUAGE_STANDARD": "c11",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "OTHER_CFLAGS": ["-Wall", "-Wextra", "-ftls-model=initial-exec"]
      },
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags": ["-O2"],
          "xcode_settings": { "GCC_OPTIMIZATION_LEVEL": "2" }
        }
      }
    }
  ]
}
