#!/usr/bin/env node
'use strict';
// bench/testing: the overhead of the testing toolkit per iteration of the
// function under test, in one process, with the consumer fixture
// (test/fixtures/consumer-addon). The function allocates and frees one 64-byte
// block through native-memwatch (about what a small native call costs).
//
// Measured, alternating in each trial, medians kept:
//   plain        a for loop of W + R*N calls (what the toolkit's calls cost bare)
//   assertNoLeak assertNoLeak(fn, {iterations: N, rounds: R, warmup: W}), default signals
//   +heap        the same with signals ['native', 'finalizers', 'heap']
//   allocsPerRun allocsPerRun(R*N, fn) against a loop of R*N + 1 calls
//   checkEachTest one beforeEach + afterEach pair (per test, not per iteration)
// Overhead per iteration = (toolkit - plain) / calls: it includes the fixed cost
// of the rounds (mw.settle(), samples), spread over the calls. Ends with one JSON line.
//
//   node bench/testing/run.js [--iterations N] [--trials N]

const mw = require('../..');
const testing = require('../../testing');
const { loadFixture } = require('../../test/helpers/build.js');

const { args, opt } = require('../args.js');
const TRIALS = opt('--trials', 7);
const SIZES = args.includes('--iterations') ? [opt('--iterations', 100)] : [100, 1000, 10000];
const ROUNDS = 3;

const c = loadFixture();
const tag = mw.tag('bench.testing');
const fn = () => c.free(c.alloc(tag, 64));
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => Number(process.hrtime.bigint());

function plain(calls) {
  const start = now();
  for (let i = 0; i < calls; i++) fn();
  return now() - start;
}

async function timed(promiseFn) {
  const start = now();
  await promiseFn();
  return now() - start;
}

async function main() {
  const results = {};
  console.log('calls per trial = warm-up N + 3 rounds x N; ns per call (median of %d trials)', TRIALS);
  console.log('%s %s %s %s %s %s', 'N'.padStart(6), 'plain'.padStart(10), 'assertNoLeak'.padStart(14), 'overhead'.padStart(10), '+heap'.padStart(10), 'overhead'.padStart(10));
  for (const n of SIZES) {
    const calls = n + ROUNDS * n;
    const p = [];
    const a = [];
    const h = [];
    for (let t = 0; t < TRIALS; t++) {
      await mw.settle();
      p.push(plain(calls) / calls);
      a.push((await timed(() => testing.assertNoLeak(fn, { iterations: n, rounds: ROUNDS, warmup: n }))) / calls);
      h.push((await timed(() => testing.assertNoLeak(fn, { iterations: n, rounds: ROUNDS, warmup: n, signals: ['native', 'finalizers', 'heap'] }))) / calls);
    }
    const mp = median(p);
    const ma = median(a);
    const mh = median(h);
    results[n] = { plain: mp, assertNoLeak: ma, heap: mh };
    console.log(
      '%s %s %s %s %s %s',
      String(n).padStart(6),
      mp.toFixed(1).padStart(10),
      ma.toFixed(1).padStart(14),
      (ma - mp).toFixed(1).padStart(10),
      mh.toFixed(1).padStart(10),
      (mh - mp).toFixed(1).padStart(10),
    );
  }
  // allocsPerRun: R*N calls (+1 warm-up) against the bare loop.
  const n = SIZES[SIZES.length - 1] * ROUNDS;
  const ap = [];
  const aa = [];
  for (let t = 0; t < TRIALS; t++) {
    ap.push(plain(n + 1) / (n + 1));
    aa.push((await timed(() => testing.allocsPerRun(n, fn))) / (n + 1));
  }
  console.log('allocsPerRun(%d): %s ns per call, plain %s ns (ratio %s)', n, median(aa).toFixed(1), median(ap).toFixed(1), (median(aa) / median(ap)).toFixed(3));
  // checkEachTest: the cost of the hook pair around an empty test.
  const hooks = {};
  testing.checkEachTest({ beforeEach: (f) => (hooks.before = f), afterEach: (f) => (hooks.after = f) });
  const pair = [];
  for (let t = 0; t < TRIALS; t++) {
    pair.push(
      await timed(async () => {
        for (let i = 0; i < 20; i++) {
          await hooks.before();
          fn();
          await hooks.after({ name: 'bench' });
        }
      }) / 20,
    );
  }
  console.log('checkEachTest: %s us per test (beforeEach + afterEach, two mw.settle())', (median(pair) / 1000).toFixed(1));
  // The fixed cost: assertNoLeak with 1 call per round (4 mw.settle() and samples).
  const fixed = async (signals) => {
    const xs = [];
    for (let t = 0; t < TRIALS; t++) xs.push(await timed(() => testing.assertNoLeak(fn, { iterations: 1, rounds: ROUNDS, warmup: 1, signals })));
    return median(xs) / 1e6;
  };
  const fixedMs = await fixed(undefined);
  const heapFixedMs = await fixed(['native', 'finalizers', 'heap']);
  // What is left per call at the largest N once the fixed cost is taken out.
  const nMax = SIZES[SIZES.length - 1];
  const callsMax = nMax * (ROUNDS + 1);
  const perCall = (key, fixedPart) => ((results[nMax][key] - results[nMax].plain) * callsMax - fixedPart * 1e6) / callsMax;
  const perCallNs = perCall('assertNoLeak', fixedMs);
  const heapPerCallNs = perCall('heap', heapFixedMs);
  console.log('fixed cost of one assertNoLeak (4 x mw.settle() + samples): %s ms; with the heap signal: %s ms', fixedMs.toFixed(2), heapFixedMs.toFixed(2));
  console.log('left per iteration at N = %d after the fixed cost: %s ns (heap: %s ns)', nMax, perCallNs.toFixed(1), heapPerCallNs.toFixed(1));
  const big = results[SIZES[SIZES.length - 1]];
  const small = results[SIZES[0]];
  console.log(
    JSON.stringify({
      overhead_ns_per_iteration_small: Number((small.assertNoLeak - small.plain).toFixed(1)),
      overhead_ns_per_iteration_large: Number((big.assertNoLeak - big.plain).toFixed(1)),
      heap_overhead_ns_per_iteration_small: Number((small.heap - small.plain).toFixed(1)),
      heap_overhead_ns_per_iteration_large: Number((big.heap - big.plain).toFixed(1)),
      ratio_large: Number((big.assertNoLeak / big.plain).toFixed(3)),
      allocs_per_run_ratio: Number((median(aa) / median(ap)).toFixed(3)),
      check_each_test_us: Number((median(pair) / 1000).toFixed(1)),
      fixed_ms: Number(fixedMs.toFixed(2)),
      per_iteration_ns: Number(perCallNs.toFixed(1)),
      heap_fixed_ms: Number(heapFixedMs.toFixed(2)),
      heap_per_iteration_ns: Number(heapPerCallNs.toFixed(1)),
      sizes: SIZES,
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
