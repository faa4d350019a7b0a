#!/usr/bin/env node
'use strict';
// bench/external: what external-memory accounting costs.
//
// 1. napi_adjust_external_memory calls per MiB churned, at the default threshold
//    (1 MiB): the adjustCalls of this environment's audit before and after
//    churning N MiB of alloc/free pairs of external-tagged blocks (64 KiB blocks,
//    32 live at most, so the amount owed swings by 2 MiB each round, past the
//    threshold both ways), on the JS thread (yielding to the event loop every few
//    rounds) and on the 4 pool threads (nmw_malloc_env naming the env). Against
//    the naive approach: malloc/free with one napi_adjust_external_memory call per
//    allocation and per free. Also shown, outside the goal: 64 B blocks, and the
//    worst pattern for per-loop-turn reporting (one 64 KiB block allocated in one
//    turn and freed in the next).
// 2. ns per allocation+free pair of an external-tagged block against a block of a
//    plain tag, same loop on the JS thread, median of alternating trials.
//
// 3. When valgrind is installed, callgrind's instructions per 64 B pair, external
//    against plain (bench/external/instructions.c: the core linked into a C
//    harness with an owner open on its thread): repeatable, unlike the times.
//
// Goals: <= 1 adjust call per MiB; external <= 1.05x plain. Ends with one JSON
// line: {"adjust_calls_per_mib": x, "ratio_external_vs_plain": y,
// "instr_ratio_external_vs_plain": z}.
//
//   node bench/external/run.js [--mib N] [--pairs N] [--trials N]

const path = require('node:path');
const mw = require('../..'); // load native-memwatch first: it publishes the table
const { buildAddon } = require('../../scripts/install.js');
const { haveValgrind, countCalls } = require('../callgrind.js');

const { args, opt } = require('../args.js');
const MIB_CHURNED = opt('--mib', 4096); // per scenario
const PAIRS = opt('--pairs', 2_000_000); // per timing trial (64 B blocks)
const TRIALS = opt('--trials', 9);

buildAddon(__dirname, { quiet: true });
const bench = require(path.join(__dirname, 'build', 'Release', 'bench_external.node'));
const status = bench.importStatus();
if (status !== 0) throw new Error(`nmw_import returned ${status}: the table was not found`);

const MiB = 1024 * 1024;
const BATCH = 32;
const EXT = 'bench.external';
const PLAIN = 'bench.plain';
const ext = mw.tag(EXT, { external: true });
const plain = mw.tag(PLAIN);

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const turn = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
const env = () => mw.stats().external.environment;

/** adjustCalls made while fn runs (and the loop turns after it). */
async function adjustCallsDuring(fn) {
  await turn();
  const before = env();
  await fn();
  await turn();
  const after = env();
  if (after.offThreadCalls !== 0) throw new Error('a flush was attempted off the JS thread');
  if (after.pending !== 0 || after.owed !== 0) throw new Error('the benchmark left external bytes owed');
  return after.adjustCalls - before.adjustCalls;
}

async function jsThread(size, mib) {
  const rounds = Math.max(1, Math.round((mib * MiB) / (size * BATCH)));
  const perCall = Math.max(1, Math.floor(rounds / 256)); // 256+ loop turns in between
  const calls = await adjustCallsDuring(async () => {
    for (let done = 0; done < rounds; done += perCall) {
      bench.churn(ext, size, Math.min(perCall, rounds - done), BATCH);
      await new Promise(setImmediate);
    }
  });
  return { calls, mib: (rounds * BATCH * size) / MiB };
}

async function poolThreads(size, mib, threads = 4) {
  const rounds = Math.max(1, Math.round((mib * MiB) / (size * BATCH * threads)));
  const calls = await adjustCallsDuring(() =>
    Promise.all(Array.from({ length: threads }, () => bench.churnAsync(ext, size, rounds, BATCH))),
  );
  return { calls, mib: (threads * rounds * BATCH * size) / MiB };
}

// One block per loop turn, freed in the next: each turn has a net change to report.
async function alternatingTurns(size, blocks) {
  const calls = await adjustCallsDuring(async () => {
    for (let i = 0; i < blocks; i++) {
      const h = bench.hold(ext, size);
      await new Promise(setImmediate);
      bench.release(h);
      await new Promise(setImmediate);
    }
  });
  return { calls, mib: (blocks * size) / MiB };
}

function naive(size, mib) {
  const rounds = Math.max(1, Math.round((mib * MiB) / (size * BATCH)));
  const { calls } = bench.naive(size, rounds, BATCH);
  return { calls, mib: (rounds * BATCH * size) / MiB };
}

function timing(size, pairs) {
  const rounds = Math.max(1, Math.floor(pairs / BATCH));
  bench.churn(plain, size, Math.ceil(rounds / 10), BATCH); // warm both paths
  bench.churn(ext, size, Math.ceil(rounds / 10), BATCH);
  const p = [];
  const e = [];
  for (let t = 0; t < TRIALS; t++) {
    p.push(bench.churn(plain, size, rounds, BATCH));
    e.push(bench.churn(ext, size, rounds, BATCH));
  }
  return { plain: median(p), external: median(e), ratio: median(e) / median(p) };
}

(async () => {
  if (mw.stats().external.threshold !== MiB) throw new Error('expected the default threshold');
  const rows = [];
  const add = (label, r, goal) => rows.push({ label, calls: r.calls, mib: r.mib, perMiB: r.calls / r.mib, goal });
  add('JS thread, 64 KiB blocks', await jsThread(65536, MIB_CHURNED), true);
  add('4 pool threads, 64 KiB blocks', await poolThreads(65536, MIB_CHURNED), true);
  add('JS thread, 64 B blocks', await jsThread(64, MIB_CHURNED / 16), false);
  add('4 pool threads, 64 B blocks', await poolThreads(64, MIB_CHURNED / 16), false);
  add('one 64 KiB change per loop turn', await alternatingTurns(65536, 2048), false);
  add('naive: 1 call per alloc/free, 64 KiB', naive(65536, MIB_CHURNED), false);
  add('naive: 1 call per alloc/free, 64 B', naive(64, MIB_CHURNED / 16), false);

  const small = timing(64, PAIRS);
  const large = timing(65536, PAIRS / 16);

  console.log(`node ${process.version}, threshold ${mw.stats().external.threshold} bytes, batch ${BATCH}`);
  console.log('adjust calls per MiB churned');
  console.log('scenario                                  MiB     calls  calls/MiB');
  for (const r of rows) {
    console.log(
      `${(r.label + (r.goal ? ' *' : '')).padEnd(40)}${r.mib.toFixed(0).padStart(6)}${String(r.calls).padStart(10)}${r.perMiB.toFixed(3).padStart(11)}`,
    );
  }
  console.log('(* the goal: <= 1 call per MiB)');
  console.log(`ns per alloc+free pair on the JS thread, median of ${TRIALS} alternating trials`);
  console.log('size     plain tag  external tag  ratio');
  for (const [label, t] of [['64 B', small], ['64 KiB', large]]) {
    console.log(`${label.padEnd(9)}${t.plain.toFixed(2).padStart(9)}${t.external.toFixed(2).padStart(14)}${t.ratio.toFixed(3).padStart(7)}`);
  }
  const s = mw.stats();
  if (s.tags[EXT].currBlocks !== 0 || s.tags[PLAIN].currBlocks !== 0) throw new Error('the benchmark leaked blocks');
  const worst = Math.max(...rows.filter((r) => r.goal).map((r) => r.perMiB));
  let instr = null;
  if (haveValgrind()) {
    const { counts } = countCalls(path.join(__dirname, 'instructions.c'), ['plain_pairs', 'external_pairs']);
    const pairs = 3000 * 32;
    instr = { plain: counts.plain_pairs / pairs, external: counts.external_pairs / pairs };
    console.log(`callgrind, 64 B pair: plain tag ${instr.plain.toFixed(1)} instructions, external tag ${instr.external.toFixed(1)}, ratio ${(instr.external / instr.plain).toFixed(3)}`);
  }
  console.log(
    JSON.stringify({
      adjust_calls_per_mib: Number(worst.toFixed(3)),
      ratio_external_vs_plain: Number(Math.max(small.ratio, large.ratio).toFixed(3)),
      ...(instr ? {
        instr_ratio_external_vs_plain: Number((instr.external / instr.plain).toFixed(3)),
        instr_64B_plain: Number(instr.plain.toFixed(1)),
        instr_64B_external: Number(instr.external.toFixed(1)),
      } : {}),
    }),
  );
})();
