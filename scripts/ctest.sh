#!/usr/bin/env bash
# Runs the C unit tests of the core (test/c): first the plain build, then the
# AddressSanitizer/UBSan build, then the threaded tests under ThreadSanitizer. Called by the npm test runner; works from any
# directory. Exits non-zero when a build or a test fails.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

have_headers() {
  if [[ -f /usr/include/cmocka.h && -f /usr/include/uv.h ]]; then
    return 0
  fi
  command -v pkg-config >/dev/null 2>&1 && pkg-config --exists cmocka libuv
}

if ! have_headers; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # The package lists are only refreshed when the install cannot find the packages.
    apt-get install -y libcmocka-dev libuv1-dev ||
      { apt-get update && apt-get install -y libcmocka-dev libuv1-dev; } ||
      exit 1
  else
    echo "native-memwatch: the C tests need libcmocka-dev and libuv1-dev; run: sudo apt-get install -y libcmocka-dev libuv1-dev"
    exit 1
  fi
fi

jobs="$(nproc 2>/dev/null || echo 2)"
status=0
# Both variants run even when the first fails, so one run shows everything.
make -C test/c -j"$jobs" run || status=1
make -C test/c -j"$jobs" run-sanitize || status=1
make -C test/c -j"$jobs" run-tsan || status=1

# The ELF patcher (attach) cross-built for aarch64 and run under qemu-user, so
# the aarch64 relocation types are tested on this x86-64 machine. Installs the
# cross toolchain, qemu-user and arm64 cmocka when it can; otherwise says why
# it skips.
aarch64_missing() {
  local missing=()
  command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
  command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
  [[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]] || missing+=(libc6-arm64-cross)
  [[ -e /usr/lib/aarch64-linux-gnu/libcmocka.so ]] || missing+=(libcmocka-dev:arm64)
  echo "${missing[@]}"
}
if [[ "$(uname -m)" == "x86_64" ]]; then
  missing="$(aarch64_missing)"
  if [[ -n "$missing" && "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # arm64 cmocka comes from Debian's arm64 archive (multiarch).
    dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
    # shellcheck disable=SC2086
    apt-get install -y $missing || { apt-get update && apt-get install -y $missing; } || true
    missing="$(aarch64_missing)"
  fi
  if [[ -n "$missing" ]]; then
    echo "native-memwatch: skipping the aarch64 ELF-patch tests: missing $missing (needs root and apt-get)"
  else
    make -C test/c -j"$jobs" run-aarch64 || status=1
  fi
fi
# The heap snapshot parser under libFuzzer, a short fixed run (scripts/fuzz.sh).
bash scripts/fuzz.sh 2000 || status=1
exit "$status"
