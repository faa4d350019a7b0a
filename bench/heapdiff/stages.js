#!/usr/bin/env node
'use strict';

// bench/heapdiff/stages.js: where a HeapDiff's time and memory go, stage by
// stage, on bench/heapdiff's workload (500,000 Items). Each variant runs in a
// fresh process (node --expose-gc): it builds the heap, takes ONE snapshot
// the variant's way and reports wall time, CPU time (user + system, less
// sensitive to other load than wall time) and peak RSS (VmHWM).
//
//   node bench/heapdiff/stages.js [--trials N] [variant...]
//
// Variants:
//   inspector-drop     HeapProfiler.takeHeapSnapshot, chunks dropped (V8 alone)
//   inspector-parse    the same, chunks fed to our parser (takeGraph, Node 20's HeapDiff route)
//   inspector-noglobal the same as inspector-drop with treatGlobalObjectsAsRoots: false
//   inspector-numeric  the same with captureNumericValue: true
//   inspector-internals the same with exposeInternals: true
//   write-file         v8.writeHeapSnapshot(file) only
//   write-parse        writeHeapSnapshot + parseFileSync (Node 22+'s HeapDiff route)
//   write-numeric      v8.writeHeapSnapshot(file, {exposeNumericValues: true}) only
//   write-numeric-parse the same + parseFileSync + HeapDiff's digest
//   stream-drop        v8.getHeapSnapshot() stream, chunks dropped
//   stream-parse       v8.getHeapSnapshot() stream fed to our parser
// Ends with one JSON line: per variant, the medians.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const VARIANTS = ['inspector-drop', 'inspector-parse', 'inspector-noglobal', 'inspector-numeric', 'inspector-internals',
  'write-file', 'write-parse', 'write-numeric', 'write-numeric-parse', 'stream-drop', 'stream-parse'];

function peakRss() {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)[1]) * 1024;
}

async function childMain(variant) {
  class Item {
    constructor(i) {
      this.id = i;
      this.name = `item-${i}`;
      this.values = [i, i + 1];
    }
  }
  const mw = require(ROOT);
  const hs = require(path.join(ROOT, 'lib/heap-snapshot.js'));
  const binding = require(path.join(ROOT, 'lib/binding.js'));
  globalThis.workload = [];
  for (let i = 0; i < 500000; i++) globalThis.workload.push(new Item(i));
  globalThis.gc();
  globalThis.gc();
  const rssBefore = process.memoryUsage().rss;
  const file = path.join(os.tmpdir(), `nmw-stages-${process.pid}.heapsnapshot`);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  let nodes = null;
  const inspectorSnap = (params, onChunk) => {
    const session = new (require('node:inspector').Session)();
    session.connect();
    session.on('HeapProfiler.addHeapSnapshotChunk', (m) => onChunk(m.params.chunk));
    session.post('HeapProfiler.enable');
    session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false, ...params }, () => {});
  };
  if (variant === 'inspector-drop') inspectorSnap({}, (c) => (bytes += c.length));
  else if (variant === 'inspector-noglobal') inspectorSnap({ treatGlobalObjectsAsRoots: false }, (c) => (bytes += c.length));
  else if (variant === 'inspector-numeric') inspectorSnap({ captureNumericValue: true }, (c) => (bytes += c.length));
  else if (variant === 'inspector-internals') inspectorSnap({ exposeInternals: true }, (c) => (bytes += c.length));
  else if (variant === 'inspector-parse') {
    const g = hs.takeGraph();
    nodes = binding.hsDigestInfo(binding.hsDigest(g, 'HeapDiff')).nodes;
  } else if (variant === 'write-file') {
    require('node:v8').writeHeapSnapshot(file);
    bytes = fs.statSync(file).size;
  } else if (variant === 'write-parse') {
    require('node:v8').writeHeapSnapshot(file);
    bytes = fs.statSync(file).size;
    const g = hs.parseFileSync(file);
    nodes = binding.hsDigestInfo(binding.hsDigest(g, 'HeapDiff')).nodes;
  } else if (variant === 'write-numeric' || variant === 'write-numeric-parse') {
    require('node:v8').writeHeapSnapshot(file, { exposeNumericValues: true });
    bytes = fs.statSync(file).size;
    if (variant === 'write-numeric-parse') {
      const g = hs.parseFileSync(file);
      nodes = binding.hsDigestInfo(binding.hsDigest(g, 'HeapDiff')).nodes;
    }
  } else if (variant === 'stream-drop' || variant === 'stream-parse') {
    const parser = variant === 'stream-parse' ? binding.hsParserNew(false, 0, 0) : null;
    const stream = require('node:v8').getHeapSnapshot();
    for await (const chunk of stream) {
      bytes += chunk.length;
      if (parser) binding.hsFeed(parser, chunk);
    }
    if (parser) nodes = binding.hsDigestInfo(binding.hsDigest(binding.hsFinish(parser), 'HeapDiff')).nodes;
  } else throw new Error(`unknown variant ${variant}`);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(c0);
  fs.rmSync(file, { force: true });
  void mw;
  console.log(JSON.stringify({ variant, node: process.version, ms, cpuMs: (cpu.user + cpu.system) / 1000, peakRss: peakRss(), rssBefore, bytes, nodes }));
}

function main() {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--trials');
  const trials = ti >= 0 ? Number(args[ti + 1]) : 2;
  if (ti >= 0) args.splice(ti, 2);
  const variants = args.length ? args : VARIANTS;
  const runs = Object.fromEntries(variants.map((v) => [v, []]));
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${trials} trials, load ${os.loadavg()[0].toFixed(2)}`);
  for (let t = 0; t < trials; t++) {
    for (const v of variants) {
      const r = spawnSync(process.execPath, ['--expose-gc', __filename, '--child', v], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`${v}: ${r.stderr}`);
      const x = JSON.parse(r.stdout.trim().split('\n').pop());
      runs[v].push(x);
      console.log(`  ${v.padEnd(20)} wall ${(x.ms / 1000).toFixed(2)} s  cpu ${(x.cpuMs / 1000).toFixed(2)} s  peak RSS ${(x.peakRss / 2 ** 20).toFixed(0)} MiB  (before ${(x.rssBefore / 2 ** 20).toFixed(0)} MiB, ${(x.bytes / 2 ** 20).toFixed(1)} Mi chars${x.nodes ? `, ${x.nodes} nodes` : ''})`);
    }
  }
  const med = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const out = {};
  for (const v of variants) {
    out[v] = { s: +(med(runs[v].map((x) => x.ms)) / 1000).toFixed(2), cpu_s: +(med(runs[v].map((x) => x.cpuMs)) / 1000).toFixed(2), peak_rss_mib: Math.round(med(runs[v].map((x) => x.peakRss)) / 2 ** 20) };
  }
  console.log(JSON.stringify(out));
}

if (process.argv[2] === '--child') childMain(process.argv[3]).catch((e) => { console.error(e); process.exit(1); });
else main();
