#!/usr/bin/env bash
# Builds the libFuzzer target of the heap snapshot parser (test/fuzz) with
# clang and runs it over the seed corpus. Called by scripts/ctest.sh with a
# short fixed number of runs; run it by hand for longer:
#
#   scripts/fuzz.sh [runs]        default 2000; 0 for no limit (Ctrl-C stops)
#   FUZZ_SECONDS=600 scripts/fuzz.sh 0
#
# New inputs go to build/fuzz/corpus (the committed seeds stay as they are).
# Needs clang and its runtime (Debian: clang-14 libclang-rt-14-dev); installs
# them when run as root with apt-get, else explains and exits 1.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
runs="${1:-2000}"

find_clang() {
  for c in clang-14 clang; do
    if command -v "$c" >/dev/null 2>&1 && echo 'int LLVMFuzzerTestOneInput(const char*d,long n){return 0;}' |
      "$c" -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

cc="$(find_clang)"
if [[ -z "$cc" ]]; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y clang-14 libclang-rt-14-dev || { apt-get update && apt-get install -y clang-14 libclang-rt-14-dev; } || exit 1
    cc="$(find_clang)" || exit 1
  else
    echo "native-memwatch: the fuzz run needs clang with libFuzzer; run: sudo apt-get install -y clang-14 libclang-rt-14-dev"
    exit 1
  fi
fi

out=build/fuzz
mkdir -p "$out/corpus"
"$cc" -std=c11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  test/fuzz/fuzz_heapsnap.c src/core/heapsnap_parse.c src/core/heapsnap_graph.c -o "$out/fuzz_heapsnap" || exit 1

args=(-max_len=65536 -rss_limit_mb=1024 -timeout=10)
[[ "$runs" != "0" ]] && args+=(-runs="$runs")
[[ -n "${FUZZ_SECONDS:-}" ]] && args+=(-max_total_time="$FUZZ_SECONDS")
if UBSAN_OPTIONS=halt_on_error=1 "./$out/fuzz_heapsnap" "${args[@]}" "$out/corpus" test/fuzz/corpus 2> "$out/fuzz.log"; then
  grep -E "^#[0-9]+.*(DONE|pulse)" "$out/fuzz.log" | tail -1
  echo "[  PASSED  ] 1 test(s)."
  exit 0
fi
tail -40 "$out/fuzz.log"
echo "[  FAILED  ] 1 test(s), listed below:"
echo "[  FAILED  ] fuzz_heapsnap"
exit 1
