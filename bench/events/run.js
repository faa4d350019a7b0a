#!/usr/bin/env node
'use strict';
// bench/events: what mw.on('gc'), mw.on('stats') and mw.on('leak') cost on a
// GC-heavy workload, against the same workload with no listener, side by side in
// one process; and how long the detector takes, with its defaults and in real
// time, to report a leak of 1 KiB per iteration over a stable 100 MiB heap.
//
// 1. The workload: chunks of 20,000 short-lived objects and 200 medium-lived ones
//    (a ring of 50,000: promoted, then garbage, so full GCs happen too), one
//    setImmediate turn between chunks (perf entries are delivered there). Each
//    phase runs for a fixed wall time and counts chunks; phases rotate
//    none / gc / stats / leak over --rounds rounds. The leak phase is longer
//    (--leak-ms, default 9 s) so that the detector passes its 4 s warm-up, takes
//    its first exact reading (one forced full GC) and samples every second: that
//    cost is in the ratio. Throughput is chunks per CPU second of the process
//    (user + system, GC threads included); ratio = throughput with no listener /
//    with it, medians over the rounds (above 1: slower).
// 2. Time to detection: a child process builds a 100 MiB heap, then retains
//    1 KiB per iteration, 200 iterations a second (a 5 ms interval timer, with
//    request-like garbage), with mw.on('leak') and the defaults; it reports the
//    seconds from the leak's start to the event, and the forced GCs and their
//    total pause.
//
// 1b. The same comparison in fresh processes taking turns (the order rotating
//    each round), each running the same number of chunks (about --leak-ms of
//    work) with one configuration: the ratio of CPU times within each round,
//    median over the rounds. These medians are the JSON line's ratio_* keys; the
//    in-process phases' figures are kept as in_process_ratio_*.
//
// Also printed: our own time in each phase measured directly (the observer's
// callback; for leak also the sampler's ticks with their forced GCs), as a
// fraction of the phase: what the listener costs on the JS thread, without the
// noise of other processes (the GC profiler's work inside GC pauses is not in it).
//
// Ends with one JSON line: {"ratio_gc_listener", "ratio_stats_listener",
// "ratio_leak_listener", "detection_s", ...}.
//
//   node bench/events/run.js [--rounds N] [--phase-ms N] [--leak-ms N] [--no-detection]

const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const { args, opt } = require('../args.js');

if (process.env.NMW_BENCH_EVENTS_CHILD === 'detect') {
  detectionChild();
} else if (process.env.NMW_BENCH_EVENTS_CHILD === 'work') {
  workChild();
} else {
  main();
}

// The GC-heavy workload: chunks of 20,000 short-lived objects, 200 of them kept
// in a ring of 50,000 (promoted, then garbage: full GCs happen too).
function makeWorkload() {
  const ring = new Array(50000).fill(null);
  let slot = 0;
  let sink = 0;
  return {
    chunk() {
      for (let i = 0; i < 20000; i++) {
        const o = { a: i, b: [i, i + 1], c: `s${i & 1023}` };
        sink += o.b.length;
      }
      for (let i = 0; i < 200; i++) {
        ring[slot] = { id: slot, data: new Array(16).fill(slot) };
        slot = (slot + 1) % ring.length;
      }
      return sink;
    },
  };
}

// One measurement in a fresh process: the listener of NMW_CFG (none, gc, stats,
// leak) added, 200 chunks to warm up, then NMW_CHUNKS chunks, one setImmediate
// turn each; prints the process's CPU time (user + system) and wall time.
async function workChild() {
  const mw = require(ROOT);
  const cfg = process.env.NMW_CFG;
  const n = Number(process.env.NMW_CHUNKS);
  const w = makeWorkload();
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  let events = 0;
  if (cfg !== 'none') mw.on(cfg, () => events++);
  for (let i = 0; i < 200; i++) {
    w.chunk();
    await turn();
  }
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    w.chunk();
    await turn();
  }
  const c = process.cpuUsage(c0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(JSON.stringify({ cfg, cpu_ms: (c.user + c.system) / 1000, wall_ms: wall, events }));
  process.exit(0);
}

// Each listener against none, in fresh processes taking turns (the order
// rotates each round), on the same number of chunks: the ratio of CPU times in
// each round, then the median over the rounds. A fresh process per measurement
// leaves no heap or JIT state from one configuration to the next.
function processRatios(rounds, chunks) {
  const order = ['none', 'gc', 'stats', 'leak'];
  const cpu = { none: [], gc: [], stats: [], leak: [] };
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < order.length; k++) {
      const cfg = order[(k + r) % order.length];
      const env = { ...process.env, NMW_BENCH_EVENTS_CHILD: 'work', NMW_CFG: cfg, NMW_CHUNKS: String(chunks) };
      const out = spawnSync(process.execPath, [__filename], { env, encoding: 'utf8', timeout: 300000 });
      const line = JSON.parse((out.stdout || '').trim().split('\n').pop());
      cpu[cfg].push(line.cpu_ms);
    }
  }
  const perRound = (cfg) => cpu[cfg].map((x, i) => x / cpu.none[i]);
  const ratios = {};
  for (const cfg of ['gc', 'stats', 'leak']) ratios[cfg] = { median: Math.round(median(perRound(cfg)) * 1000) / 1000, all: perRound(cfg).map((x) => Math.round(x * 1000) / 1000) };
  return { cpu, ratios };
}

function median(xs) {
  const a = [...xs].sort((x, y) => x - y);
  const n = a.length;
  return n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

async function main() {
  const mw = require(ROOT);
  const ROUNDS = opt('--rounds', 5);
  const PHASE_MS = opt('--phase-ms', 3000);
  const LEAK_MS = opt('--leak-ms', 9000);
  const workload = makeWorkload();
  const chunk = () => workload.chunk();
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  // Chunks per CPU second of this process (user + system: the GC's helper
  // threads, the observer and the detector's forced GCs included), so that other
  // processes on a shared machine weigh less than on wall time.
  async function phase(ms) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    const end = t0 + BigInt(ms) * 1000000n;
    let chunks = 0;
    let now = t0;
    while (now < end) {
      chunk();
      chunks++;
      await turn();
      now = process.hrtime.bigint();
    }
    const c = process.cpuUsage(c0);
    return chunks / ((c.user + c.system) / 1e6);
  }
  const counts = { gc: 0, stats: 0, leak: 0 };
  const listeners = {
    none: null,
    gc: () => counts.gc++,
    stats: () => counts.stats++,
    leak: () => counts.leak++,
  };
  const order = ['none', 'gc', 'stats', 'leak'];
  const rates = { none: [], gc: [], stats: [], leak: [] };
  // Our own time in each phase, measured directly (immune to other processes):
  // the observer's callback, and the leak monitor's ticks (forced GCs included).
  const own = { none: [], gc: [], stats: [], leak: [] };
  const { counters: evCounters } = require(path.join(ROOT, 'lib/events.js')).testing;
  const forcedBefore = require(path.join(ROOT, 'lib/events.js')).testing.monitor;
  let forced = 0;
  await phase(1000); // warm the JIT
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < order.length; k++) {
      const name = order[(k + r) % order.length];
      const fn = listeners[name];
      const h0 = evCounters.handlerNs;
      if (fn) mw.on(name, fn);
      const ms = name === 'leak' ? LEAK_MS : PHASE_MS;
      const rate = await phase(ms);
      let ownNs = evCounters.handlerNs - h0;
      if (name === 'leak') {
        forced += forcedBefore.forcedGcs;
        ownNs += forcedBefore.tickNs;
      }
      own[name].push(ownNs / (ms * 1e6));
      if (fn) mw.off(name, fn);
      rates[name].push(rate);
    }
  }
  const base = median(rates.none);
  const ratio = (name) => Math.round((base / median(rates[name])) * 1000) / 1000;
  console.log(`GC-heavy workload, ${ROUNDS} rounds (phases ${PHASE_MS} ms, leak phases ${LEAK_MS} ms), chunks per CPU second, medians:`);
  for (const name of order) {
    console.log(`  ${name.padEnd(6)} ${median(rates[name]).toFixed(1).padStart(8)} chunks/cpu-s   ratio ${name === 'none' ? '1.000' : ratio(name).toFixed(3)}   (${rates[name].map((x) => x.toFixed(1)).join(', ')})`);
  }
  const ownRatio = (name) => Math.round((1 + median(own[name])) * 10000) / 10000;
  console.log(`  own time measured directly (observer callback; leak: + sampling, forced GCs, confirmations), as a fraction of the phase:`);
  for (const name of ['gc', 'stats', 'leak']) {
    console.log(`    ${name.padEnd(6)} ${(median(own[name]) * 100).toFixed(3)}%  -> ratio ${ownRatio(name).toFixed(4)}`);
  }
  console.log(`  events seen: gc ${counts.gc}, stats ${counts.stats}, leak ${counts.leak}; forced GCs in leak phases: ${forced}`);
  const result = {
    bench: 'events',
    rounds: ROUNDS,
    ratio_gc_listener: ratio('gc'),
    ratio_stats_listener: ratio('stats'),
    ratio_leak_listener: ratio('leak'),
    own_ratio_gc_listener: ownRatio('gc'),
    own_ratio_stats_listener: ownRatio('stats'),
    own_ratio_leak_listener: ownRatio('leak'),
    gc_events: counts.gc,
    leak_events_on_workload: counts.leak,
    forced_gcs_leak_phases: forced,
  };
  if (!args.includes('--in-process-only')) {
    // About LEAK_MS of work per process, so that the leak listener passes its
    // warm-up, forces its first exact GC and samples, as in the phases above.
    const chunks = Math.max(200, Math.round((median(rates.none) * LEAK_MS) / 1000));
    const p = processRatios(ROUNDS, chunks);
    console.log(`Fresh processes taking turns, ${ROUNDS} rounds of ${chunks} chunks each, CPU time ratio to none (median of the rounds' ratios):`);
    for (const cfg of ['gc', 'stats', 'leak']) console.log(`  ${cfg.padEnd(6)} ${p.ratios[cfg].median.toFixed(3)}   (${p.ratios[cfg].all.join(', ')})`);
    console.log(`  none CPU ms: ${p.cpu.none.map((x) => Math.round(x)).join(', ')}`);
    Object.assign(result, {
      ratio_gc_listener: p.ratios.gc.median,
      ratio_stats_listener: p.ratios.stats.median,
      ratio_leak_listener: p.ratios.leak.median,
      in_process_ratio_gc_listener: ratio('gc'),
      in_process_ratio_stats_listener: ratio('stats'),
      in_process_ratio_leak_listener: ratio('leak'),
      process_chunks: chunks,
    });
  }
  if (!args.includes('--no-detection')) {
    const env = { ...process.env, NMW_BENCH_EVENTS_CHILD: 'detect' };
    const r = spawnSync(process.execPath, [__filename], { env, encoding: 'utf8', timeout: 180000 });
    const line = (r.stdout || '').trim().split('\n').pop();
    let d = null;
    try {
      d = JSON.parse(line);
    } catch {
      console.log(`detection child failed: ${r.status} ${r.stderr}`);
    }
    if (d) {
      console.log(`1 KiB/iteration leak over a ${d.heap_mib} MiB heap (${d.rate_kib_s} iterations/s): reported after ${d.detection_s} s (kind ${d.kind}, growth ${d.growth} bytes); forced GCs ${d.forced_gcs}, their pauses ${d.forced_pause_ms} ms in total`);
      Object.assign(result, { detection_s: d.detection_s, detection_forced_gcs: d.forced_gcs, detection_forced_pause_ms: d.forced_pause_ms });
    }
  }
  console.log(JSON.stringify(result));
}

function detectionChild() {
  const mw = require(ROOT);
  const { testing } = require(path.join(ROOT, 'lib/events.js'));
  const base = [];
  for (let i = 0; i < 100 * 1024; i++) {
    const a = new Array(126);
    for (let k = 0; k < 126; k++) a[k] = (i + k) & 0xffff;
    base.push(a);
  }
  mw.gc();
  const heapMiB = Math.round(require('node:v8').getHeapStatistics().used_heap_size / 1048576);
  let forcedPauseNs = 0;
  mw.on('gc', (e) => {
    if (e.forced) forcedPauseNs += e.pause;
  });
  const leaked = [];
  const t0 = Date.now();
  mw.on('leak', (info) => {
    const s = (Date.now() - t0) / 1000;
    clearInterval(timer);
    setTimeout(() => {
      console.log(JSON.stringify({
        heap_mib: heapMiB,
        rate_kib_s: Math.round(leaked.length / s),
        detection_s: Math.round(s * 10) / 10,
        kind: info.kind,
        growth: info.growth,
        forced_gcs: testing.monitor.forcedGcs,
        forced_pause_ms: Math.round(forcedPauseNs / 1e5) / 10,
      }));
      process.exit(0);
    }, 200);
  });
  const timer = setInterval(() => {
    const a = new Array(126);
    for (let k = 0; k < 126; k++) a[k] = k;
    leaked.push(a);
    for (let i = 0; i < 50; i++) void { i, s: `r${i}` };
  }, 5);
  setTimeout(() => {
    console.log(JSON.stringify({ heap_mib: heapMiB, detection_s: null, forced_gcs: testing.monitor.forcedGcs }));
    process.exit(1);
  }, 120000).unref();
  globalThis.nmwBenchBase = base; // kept for good
}
