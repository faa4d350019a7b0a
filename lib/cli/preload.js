'use strict';

// Preloaded into the app by `native-memwatch run` (node -r). Samples in the
// app's own process every NATIVE_MEMWATCH_INTERVAL ms on an unref'd timer, and
// sends one JSON line per message to the CLI through the pipe on fd
// NATIVE_MEMWATCH_FD: asynchronously while the app runs (a full pipe queues
// in libuv, the app never waits), synchronously only at exit. Records: samples,
// GC events (PerformanceObserver 'gc'), leak events (mw.on('leak') when that
// exists), and at exit the top sites, the tags and the finalizer exit report.

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { PerformanceObserver, constants: perfConstants } = require('node:perf_hooks');

const mw = require(path.join(__dirname, '..', 'index.js'));
const { explain, PARTS } = require('../explain.js');
const binding = require('../binding.js');

const { isMainThread } = require('node:worker_threads');

// Workers inherit -r: only the main thread samples (the counters are process-wide).
const fd = isMainThread ? Number(process.env.NATIVE_MEMWATCH_FD) : NaN;
const interval = Number(process.env.NATIVE_MEMWATCH_INTERVAL) || 100;

const GC_KINDS = {
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

let socket = null;
let closed = false;
if (Number.isInteger(fd) && fd > 2) {
  try {
    socket = new net.Socket({ fd, readable: false, writable: true });
    socket.on('error', () => {
      closed = true; // the CLI went away: keep the app running, stop sending
    });
    socket.unref();
  } catch {
    socket = null;
  }
}

function send(message) {
  if (!socket || closed) return;
  socket.write(`${JSON.stringify(message)}\n`);
}

function sendSync(message) {
  if (closed || !(fd > 2)) return;
  try {
    fs.writeSync(fd, `${JSON.stringify(message)}\n`);
  } catch {
    closed = true;
  }
}

if (Number.isInteger(fd) && fd > 2) start();

function start() {
  const t0 = Date.now();
  let gcEvents = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = GC_KINDS[e.detail ? e.detail.kind : e.kind] || 'other';
      gcEvents.push([Math.round(performance.timeOrigin + e.startTime - t0), Math.round(e.duration * 1000) / 1000, kind]);
    }
  });
  observer.observe({ entryTypes: ['gc'] });

  function finalizersLive() {
    try {
      return binding.finTotals()[4];
    } catch {
      return null;
    }
  }

  function handles() {
    return typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo().length : null;
  }

  let seq = 0;
  function sample() {
    const e = explain();
    const heap = process.memoryUsage();
    const parts = {};
    for (const name of PARTS) parts[name] = e.parts[name].bytes;
    return {
      type: 'sample',
      seq: seq++,
      t: e.time - t0,
      rss: e.rss,
      parts,
      heapUsed: heap.heapUsed,
      heapTotal: heap.heapTotal,
      external: heap.external,
      arrayBuffers: heap.arrayBuffers,
      native: e.parts.native.tags,
      finalizersLive: finalizersLive(),
      handles: handles(),
    };
  }

  function flushGc() {
    if (gcEvents.length === 0) return;
    send({ type: 'gc', events: gcEvents });
    gcEvents = [];
  }

  const sources = {};
  for (const name of PARTS) sources[name] = null;
  {
    const e = explain();
    for (const name of PARTS) sources[name] = e.parts[name].source;
  }
  send({
    type: 'start',
    pid: process.pid,
    t0,
    intervalMs: interval,
    node: process.version,
    sources,
    features: {
      leakEvents: typeof mw.on === 'function',
      attach: typeof mw.attach === 'function',
    },
  });

  if (process.env.NATIVE_MEMWATCH_ATTACH === '1') {
    if (typeof mw.attach !== 'function') {
      process.stderr.write('native-memwatch: --attach needs mw.attach(), which this version does not have\n');
      process.exit(2);
    }
    mw.attach();
  }

  // --heap: a HeapDiff from here (before the app's main module runs, when
  // the heap is Node's own few MB: about 0.1 s) to exit; its rows become the
  // report's constructors. The snapshot at exit costs what V8's snapshot of
  // the app's heap costs (docs/cli.md).
  let heapDiff = null;
  let heapStartMs = null;
  let heapError = null;
  if (process.env.NATIVE_MEMWATCH_HEAP === '1') {
    const h0 = process.hrtime.bigint();
    try {
      heapDiff = new mw.HeapDiff();
    } catch (err) {
      heapError = `heap snapshot at start failed: ${err.message}`;
    }
    heapStartMs = Number(process.hrtime.bigint() - h0) / 1e6;
  }

  function heapAtExit() {
    if (heapDiff === null && heapError === null) return null;
    const out = { before: null, after: null, constructors: null, startMs: heapStartMs, endMs: null, error: heapError };
    if (heapDiff === null) return out;
    const h0 = process.hrtime.bigint();
    try {
      const d = heapDiff.end();
      out.before = { nodes: d.before.nodes, size_bytes: d.before.size_bytes };
      out.after = { nodes: d.after.nodes, size_bytes: d.after.size_bytes };
      out.constructors = d.change.details
        .map((r) => ({ name: r.what, count: r['+'] - r['-'], bytes: r.size_bytes, allocated: r['+'], freed: r['-'] }))
        .sort((a, b) => b.bytes - a.bytes || b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .slice(0, 50);
    } catch (err) {
      out.error = `heap snapshot at exit failed: ${err.message}`;
    }
    heapDiff = null;
    out.endMs = Number(process.hrtime.bigint() - h0) / 1e6;
    return out;
  }

  if (typeof mw.on === 'function') {
    try {
      mw.on('leak', (info) => send({ type: 'leak', t: Date.now() - t0, info }));
    } catch {
      // an older events API: no leak events
    }
  }

  const timer = setInterval(() => {
    send(sample());
    flushGc();
  }, interval);
  timer.unref();

  function finish(how) {
    if (finish.done) return;
    finish.done = true;
    clearInterval(timer);
    observer.disconnect();
    const last = sample();
    const stats = mw.stats();
    const tags = Object.entries(stats.tags)
      .map(([name, c]) => ({ name, currBytes: c.currBytes, peakBytes: c.peakBytes, currBlocks: c.currBlocks, allocs: c.allocs, frees: c.frees }))
      .filter((r) => r.allocs > 0)
      .sort((a, b) => b.currBytes - a.currBytes || b.peakBytes - a.peakBytes);
    let fin = null;
    try {
      fin = mw.finalizers().tags;
    } catch {
      fin = null;
    }
    const end = {
      type: 'end',
      how,
      explain: explain(),
      tags,
      sites: mw.sites({ limit: 20 }),
      finalizers: fin,
      misuse: { ...stats.misuse, sites: stats.misuse.sites.slice(0, 20) },
      addons: stats.addons === undefined ? null : stats.addons,
      heap: heapAtExit(),
    };
    const pending = gcEvents;
    gcEvents = [];
    // At exit the app is ending: write what is left synchronously, in order.
    if (socket) socket.cork();
    sendSync(last);
    if (pending.length) sendSync({ type: 'gc', events: pending });
    sendSync(end);
  }

  mw.finalizers.onExit((report) => {
    finish('exit');
    sendSync({ type: 'exitReport', report });
  });

  // --duration: the CLI ends the app with SIGTERM; record the end, then die of it.
  if (process.env.NATIVE_MEMWATCH_DURATION === '1') {
    process.once('SIGTERM', () => {
      finish('duration');
      process.kill(process.pid, 'SIGTERM');
    });
  }
}
