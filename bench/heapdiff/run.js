#!/usr/bin/env node
'use strict';

// bench/heapdiff: native-memwatch's HeapDiff against @airbnb/node-memwatch's
// (a devDependency used only here) on the same heap, and the snapshot parser
// alone against JSON.parse.
//
//   node bench/heapdiff/run.js [--trials N]
//
// 1. HeapDiff: each trial runs bench/heapdiff/child.js twice, `memwatch` then
//    `ours`, each in a fresh process (node --expose-gc): it builds a heap of
//    500,000 small objects (class Item: ~2.05 M snapshot nodes, ~77 MiB used),
//    then times `new HeapDiff()`, 10,000 new Items and `hd.end()`, checks
//    that the diff found the 10,000, and reports the process's peak RSS
//    (VmHWM from /proc/self/status). N trials (default 3); medians.
// 2. The parser: one child writes a snapshot of the same heap (v8.writeHeapSnapshot,
//    ~150 MB); then, alternating, N times each: mw.summarizeHeapSnapshot(file)
//    and JSON.parse(fs.readFileSync(file, 'utf8')), each in a fresh process;
//    throughput = file bytes / wall time of the call (MB = 2^20 bytes).
// Ratios are ours / theirs (below 1 is better). Ends with one JSON line:
// ratio_time, ratio_rss (HeapDiff, ours / memwatch), parse_mb_per_s (ours),
// json_parse_mb_per_s, and the goals of issue 10 (ratio_time <= 0.8,
// ratio_rss <= 0.6, parse_mb_per_s >= 300).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const CHILD = path.join(__dirname, 'child.js');
const argTrials = process.argv.indexOf('--trials');
const TRIALS = argTrials > 0 ? Number(process.argv[argTrials + 1]) : 3;
const MiB = 1024 * 1024;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function child(mode, file) {
  const args = ['--expose-gc', CHILD, mode];
  if (file) args.push(file);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * MiB });
  if (r.status !== 0) throw new Error(`child ${mode} failed (${r.status} ${r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function heapDiffBench() {
  const runs = { memwatch: [], ours: [] };
  for (let i = 0; i < TRIALS; i++) {
    for (const impl of ['memwatch', 'ours']) {
      const r = child(impl);
      if (r.itemsAdded !== 10000 || r.itemsFreed !== 0) throw new Error(`${impl}: the diff found +${r.itemsAdded} -${r.itemsFreed} Items, not +10000 -0`);
      runs[impl].push(r);
      console.log(`  trial ${i + 1} ${impl.padEnd(8)} ${(r.ms / 1000).toFixed(2)} s   peak RSS ${(r.peakRss / MiB).toFixed(0)} MiB   (RSS before the diff ${(r.rssBefore / MiB).toFixed(0)} MiB, heap used ${(r.heapUsed / MiB).toFixed(1)} MiB, ${r.nodesBefore} nodes)`);
    }
  }
  const m = (impl, key) => median(runs[impl].map((r) => r[key]));
  const res = {
    memwatch_s: m('memwatch', 'ms') / 1000,
    ours_s: m('ours', 'ms') / 1000,
    memwatch_peak_rss_mib: m('memwatch', 'peakRss') / MiB,
    ours_peak_rss_mib: m('ours', 'peakRss') / MiB,
    rss_before_mib: m('ours', 'rssBefore') / MiB,
  };
  res.ratio_time = res.ours_s / res.memwatch_s;
  res.ratio_rss = res.ours_peak_rss_mib / res.memwatch_peak_rss_mib;
  console.log(`HeapDiff around 10,000 new objects on a heap of 500,000 (medians of ${TRIALS}):`);
  console.log(`  time      memwatch ${res.memwatch_s.toFixed(2)} s   ours ${res.ours_s.toFixed(2)} s   ratio ${res.ratio_time.toFixed(3)}  (goal <= 0.8)`);
  console.log(`  peak RSS  memwatch ${res.memwatch_peak_rss_mib.toFixed(0)} MiB   ours ${res.ours_peak_rss_mib.toFixed(0)} MiB   ratio ${res.ratio_rss.toFixed(3)}  (goal <= 0.6)`);
  return res;
}

function parseBench(tmp) {
  const file = path.join(tmp, 'workload.heapsnapshot');
  const w = child('write', file);
  const MB = w.bytes / MiB;
  console.log(`snapshot file: ${MB.toFixed(1)} MiB, written by v8.writeHeapSnapshot in ${(w.ms / 1000).toFixed(2)} s (peak RSS ${(w.peakRss / MiB).toFixed(0)} MiB)`);
  const ours = [];
  const json = [];
  for (let i = 0; i < TRIALS; i++) {
    ours.push(child('parse-ours', file));
    json.push(child('parse-json', file));
    if (ours[i].nodes !== json[i].nodes) throw new Error(`node counts differ: ${ours[i].nodes} vs ${json[i].nodes}`);
  }
  const res = {
    file_mib: MB,
    ours_s: median(ours.map((r) => r.ms)) / 1000,
    json_s: median(json.map((r) => r.ms)) / 1000,
    json_parse_only_s: median(json.map((r) => r.parseMs)) / 1000,
    ours_peak_rss_mib: median(ours.map((r) => r.peakRss)) / MiB,
    json_peak_rss_mib: median(json.map((r) => r.peakRss)) / MiB,
  };
  res.parse_mb_per_s = MB / res.ours_s;
  res.json_parse_mb_per_s = MB / res.json_parse_only_s;
  console.log(`parser on that file (${ours[0].nodes} nodes; medians of ${TRIALS}):`);
  console.log(`  mw.summarizeHeapSnapshot  ${res.ours_s.toFixed(2)} s  ${res.parse_mb_per_s.toFixed(0)} MiB/s  peak RSS ${res.ours_peak_rss_mib.toFixed(0)} MiB  (goal >= 300 MiB/s)`);
  console.log(`  readFileSync + JSON.parse ${res.json_s.toFixed(2)} s  (JSON.parse alone ${res.json_parse_only_s.toFixed(2)} s: ${res.json_parse_mb_per_s.toFixed(0)} MiB/s)  peak RSS ${res.json_peak_rss_mib.toFixed(0)} MiB`);
  console.log(`  ratio time ${(res.ours_s / res.json_parse_only_s).toFixed(3)} (vs JSON.parse alone)   ratio peak RSS ${(res.ours_peak_rss_mib / res.json_peak_rss_mib).toFixed(3)}`);
  return res;
}

function main() {
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${TRIALS} trials`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-bench-heapdiff-'));
  try {
    const hd = heapDiffBench();
    const p = parseBench(tmp);
    const r3 = (x) => Math.round(x * 1000) / 1000;
    console.log(
      JSON.stringify({
        ratio_time: r3(hd.ratio_time),
        ratio_rss: r3(hd.ratio_rss),
        parse_mb_per_s: Math.round(p.parse_mb_per_s),
        json_parse_mb_per_s: Math.round(p.json_parse_mb_per_s),
        heapdiff_s: r3(hd.ours_s),
        memwatch_heapdiff_s: r3(hd.memwatch_s),
        heapdiff_peak_rss_mib: Math.round(hd.ours_peak_rss_mib),
        memwatch_peak_rss_mib: Math.round(hd.memwatch_peak_rss_mib),
        parse_peak_rss_mib: Math.round(p.ours_peak_rss_mib),
        json_parse_peak_rss_mib: Math.round(p.json_peak_rss_mib),
        goal_ratio_time: 0.8,
        goal_ratio_rss: 0.6,
        goal_parse_mb_per_s: 300,
      }),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main();
