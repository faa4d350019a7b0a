#!/usr/bin/env node
'use strict';
// bench/finalizers: the cost of the finalizer audit. ns per object for
// "create + register a finalizer + GC + finalize", through the plain Node-API
// calls (napi_wrap, napi_create_external) against native-memwatch's audited twins
// (nmw_wrap, nmw_create_external), in one process, with the finalizer fixture
// (test/fixtures/finalizer-addon). Each trial makes N objects in a native loop
// (a handle scope per object), then runs gc() and setImmediate turns until the
// fixture has seen all N finalizers run. Every trial starts from a collected
// heap (the cost of a full GC depends on what the previous trial left). Raw and
// audited trials alternate; the median is kept. Also measures the registration alone and the cost of
// mw.configure({finalizers: {captureStacks: true}}).
//
// Times move from run to run on this shared machine (ratio_wrap 0.95 to 1.15 in
// four runs of one build), so when valgrind is installed the "+ GC + finalize"
// rows are also counted in instructions per object: callgrind, node
// --single-threaded (V8's concurrent threads make the count move), each variant
// in a process of its own for 1 and for 4 trials of --instr-objects objects
// (default 50,000) after a warm-up trial; the difference over 3 trials is what a
// steady trial costs (start-up cancels out). --no-instructions skips it (about
// two minutes). Ends with one JSON line.
//
//   node bench/finalizers/run.js [--objects N] [--trials N] [--instr-objects N] [--no-instructions]

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { spawnSync } = require('node:child_process');
const mw = require('../..'); // load native-memwatch first: it publishes the table
const { buildFinalizerFixture } = require('../../test/helpers/finalizer-fixture.js');
const { setImmediate: turn } = require('node:timers/promises');

const { args, opt } = require('../args.js');
const N = opt('--objects', 200_000);
const TRIALS = opt('--trials', 9);
const INSTR_OBJECTS = opt('--instr-objects', 50_000);
const CHILD = args.includes('--child') ? args[args.indexOf('--child') + 1] : null;

const fx = require(buildFinalizerFixture());
if (fx.importStatus !== 0) throw new Error(`nmw_import returned ${fx.importStatus}`);
const tag = fx.tag('bench.finalizers');
const WRAP = 0;
const EXTERNAL = 1;

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function cleanHeap() {
  mw.gc();
  await turn();
  await turn();
  mw.gc();
  await turn();
}

// ns per object: make N, then collect and finalize all of them.
async function trial(kind, audited, n = N) {
  await cleanHeap();
  const target = fx.counts().finalized + n;
  const start = process.hrtime.bigint();
  fx.churn(kind, n, tag, audited);
  while (fx.counts().finalized < target) {
    mw.gc();
    await turn();
  }
  return Number(process.hrtime.bigint() - start) / n;
}

// ns per object for the native loop only (registration; finalization excluded).
async function registerOnly(kind, audited, n = N) {
  await cleanHeap();
  const start = process.hrtime.bigint();
  fx.churn(kind, n, tag, audited);
  const ns = Number(process.hrtime.bigint() - start) / n;
  await mw.settle();
  return ns;
}

async function compare(kind, fn) {
  await fn(kind, false, N / 4); // warm both paths
  await fn(kind, true, N / 4);
  const raw = [];
  const audited = [];
  for (let t = 0; t < TRIALS; t++) {
    raw.push(await fn(kind, false));
    audited.push(await fn(kind, true));
  }
  return { raw: median(raw), audited: median(audited) };
}

async function stacksCost() {
  const off = [];
  const on = [];
  const n = Math.min(N, 50_000);
  for (let t = 0; t < TRIALS; t++) {
    mw.configure({ finalizers: { captureStacks: false } });
    off.push(await registerOnly(WRAP, true, n));
    mw.configure({ finalizers: { captureStacks: true } });
    on.push(await registerOnly(WRAP, true, n));
  }
  mw.configure({ finalizers: { captureStacks: false } });
  return { off: median(off), on: median(on) };
}

/** Instructions per object of one steady "+ GC + finalize" trial of a variant. */
function instructionsPerObject(variant) {
  const total = (trials) => {
    const out = path.join(os.tmpdir(), `nmw-finalizers-${process.pid}-${variant}-${trials}.cg`);
    const r = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath,
      '--single-threaded', __filename, '--child', variant, '--trials', String(trials),
      '--objects', String(INSTR_OBJECTS)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`callgrind of ${variant} failed:\n${r.stderr}`);
    const m = /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(out, 'utf8'));
    fs.rmSync(out, { force: true });
    if (!m) throw new Error(`no instruction total in callgrind's output for ${variant}`);
    return Number(m[1]);
  };
  return (total(4) - total(1)) / 3 / INSTR_OBJECTS;
}

if (CHILD) {
  // Counted by the parent under callgrind: a warm-up, then TRIALS trials of one variant.
  const [kind, audited] = { wrap_raw: [WRAP, false], wrap_audited: [WRAP, true],
    external_raw: [EXTERNAL, false], external_audited: [EXTERNAL, true] }[CHILD];
  (async () => {
    await trial(kind, audited, N / 4);
    for (let t = 0; t < TRIALS; t++) await trial(kind, audited);
  })();
} else (async () => {
  const fmt = (x) => x.toFixed(1).padStart(8);
  const rows = [];
  const wrap = await compare(WRAP, trial);
  const external = await compare(EXTERNAL, trial);
  const wrapReg = await compare(WRAP, registerOnly);
  const externalReg = await compare(EXTERNAL, registerOnly);
  const stacks = await stacksCost();
  rows.push(['wrap + GC + finalize', wrap]);
  rows.push(['create_external + GC + finalize', external]);
  rows.push(['wrap (registration only)', wrapReg]);
  rows.push(['create_external (registration only)', externalReg]);
  console.log(`node ${process.version}, ${N} objects per trial, median of ${TRIALS} trials (ns per object)`);
  console.log(`${'operation'.padEnd(38)}${'raw'.padStart(8)}${'audited'.padStart(9)}${'ratio'.padStart(8)}`);
  for (const [name, r] of rows) {
    console.log(`${name.padEnd(38)}${fmt(r.raw)} ${fmt(r.audited)}${(r.audited / r.raw).toFixed(3).padStart(8)}`);
  }
  console.log(
    `captureStacks (wrap registration): off ${stacks.off.toFixed(1)} ns, on ${stacks.on.toFixed(1)} ns, ` +
      `+${(stacks.on - stacks.off).toFixed(1)} ns per registration`,
  );
  const overhead = mw.finalizers().overhead;
  console.log(`record table: ${overhead.capacity} slots, ${overhead.totalBytes} bytes, peak ${overhead.peakLive} live`);
  const instr = {};
  if (!args.includes('--no-instructions') && spawnSync('valgrind', ['--version']).status === 0) {
    for (const v of ['wrap_raw', 'wrap_audited', 'external_raw', 'external_audited']) instr[v] = instructionsPerObject(v);
    console.log(
      `callgrind, instructions per object (+ GC + finalize, ${INSTR_OBJECTS} objects per trial): ` +
        `wrap ${instr.wrap_raw.toFixed(0)} raw, ${instr.wrap_audited.toFixed(0)} audited (${(instr.wrap_audited / instr.wrap_raw).toFixed(3)}); ` +
        `create_external ${instr.external_raw.toFixed(0)} raw, ${instr.external_audited.toFixed(0)} audited (${(instr.external_audited / instr.external_raw).toFixed(3)})`,
    );
  }
  console.log(
    JSON.stringify({
      ratio_wrap: Number((wrap.audited / wrap.raw).toFixed(3)),
      ratio_external: Number((external.audited / external.raw).toFixed(3)),
      ratio_wrap_register: Number((wrapReg.audited / wrapReg.raw).toFixed(3)),
      ratio_external_register: Number((externalReg.audited / externalReg.raw).toFixed(3)),
      capture_stacks_ns: Number((stacks.on - stacks.off).toFixed(1)),
      ...(instr.wrap_raw ? {
        instr_ratio_wrap: Number((instr.wrap_audited / instr.wrap_raw).toFixed(3)),
        instr_ratio_external: Number((instr.external_audited / instr.external_raw).toFixed(3)),
      } : {}),
    }),
  );
})();
