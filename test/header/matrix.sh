#!/usr/bin/env bash
# The public header compiles warning-free with -Wall -Wextra -Werror at -O0..-O3,
# with gcc and clang, as C (c99, c11) and C++ (c++11, c++17), with and without
# Node-API; then the probe test (probe.c) runs built by each compiler, plain and
# under ASan+UBSan. Prints "ok - ..." / "not ok - ..." lines and a summary
# "header matrix: N passed, M failed"; exits 1 on any failure.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/build/header-matrix"
mkdir -p "$out"
node_inc="$(node -p "require('path').resolve(process.execPath, '../../include/node')")"
pass=0
fail=0
report() {
  if [ "$1" -eq 0 ]; then echo "ok - $2"; pass=$((pass + 1)); else echo "not ok - $2"; fail=$((fail + 1)); fi
}
warn="-Wall -Wextra -Werror -pedantic-errors -Wno-long-long"
for cc in gcc clang; do
  command -v "$cc" >/dev/null 2>&1 || { echo "# $cc not found; skipped"; continue; }
  cxx=g++; [ "$cc" = clang ] && cxx=clang++
  for opt in -O0 -O1 -O2 -O3; do
    for std in c99 c11; do
      $cc -std=gnu${std#c} $warn $opt -I"$root/include" -I"$node_inc" -DNODE_GYP_MODULE_NAME=consumer \
        -c "$here/consumer.c" -o "$out/c.o" 2>"$out/err" 
      report $? "$cc $opt -std=gnu${std#c} consumer with Node-API"; [ -s "$out/err" ] && cat "$out/err"
      $cc -std=$std $warn $opt -I"$root/include" -DNMW_NO_NODE_API -c "$here/consumer.c" -o "$out/c.o" 2>"$out/err"
      report $? "$cc $opt -std=$std consumer without Node-API"; [ -s "$out/err" ] && cat "$out/err"
    done
    for std in c++11 c++17; do
      $cxx -std=$std -Wall -Wextra -Werror $opt -I"$root/include" -I"$node_inc" \
        -DNODE_GYP_MODULE_NAME=consumer -x c++ -c "$here/consumer.c" -o "$out/cc.o" 2>"$out/err"
      report $? "$cxx $opt -std=$std consumer with Node-API"; [ -s "$out/err" ] && cat "$out/err"
    done
  done
  $cc -std=c11 -D_DEFAULT_SOURCE $warn -O2 -I"$root/include" "$here/probe.c" -o "$out/probe-$cc" 2>"$out/err" \
    && "$out/probe-$cc" >"$out/probe.log" 2>&1
  report $? "$cc probe: foreign pointers refused without a fault"; grep -q "^not ok" "$out/probe.log" 2>/dev/null && cat "$out/probe.log"
  [ -s "$out/err" ] && cat "$out/err"
  $cc -std=c11 -D_DEFAULT_SOURCE $warn -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -I"$root/include" "$here/probe.c" -o "$out/probe-$cc-san" 2>"$out/err" \
    && ASAN_OPTIONS=detect_leaks=1 "$out/probe-$cc-san" >"$out/probe.log" 2>&1
  report $? "$cc probe under ASan+UBSan"; grep -q "^not ok" "$out/probe.log" 2>/dev/null && cat "$out/probe.log"
  [ -s "$out/err" ] && cat "$out/err"
done
echo "header matrix: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
