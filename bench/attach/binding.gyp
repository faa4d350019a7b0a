# The malloc+free microbenchmark's addon: plain libc calls, compiled the way any
# third-party addon is (node-gyp, -fPIC, calls through the PLT), so attach can
# rewrite its relocations.
{
  "targets": [
    {
      "target_name": "bench_attach",
      "sources": ["bench_attach.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=c11", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
