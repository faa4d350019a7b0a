#!/usr/bin/env bash
# Runs the C unit tests of the core (test/c): first the plain build, then the
# AddressSanitizer/UBSan build. Called by the npm test runner; works from any
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
# The heap snapshot parser under libFuzzer, a short fixed run (scripts/fuzz.sh).
bash scripts/fuzz.sh 2000 || status=1
exit "$status"
