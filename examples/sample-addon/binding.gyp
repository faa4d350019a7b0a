# The sample addon of docs/c-api.md. It finds native_memwatch.h the way any
# addon does: through require('native-memwatch').include.
{
  "targets": [
    {
      "target_name": "sample",
      "sources": ["sample.c"],
      "include_dirs": ["<!@(node -p \"require('native-memwatch').include\")"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra"],
      "xcode_settings": {
        "GCC_C_LANGUAGE_STANDARD": "c11",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/std:c11"]}}
    }
  ]
}
