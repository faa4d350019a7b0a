#!/usr/bin/env node
'use strict';
// bench/alloc: ns per allocation+free pair, glibc malloc/free against
// native-memwatch's nmw_malloc/nmw_free called through the function table (as a
// consumer addon calls them), for 16 B, 64 B, 1 KiB and 64 KiB blocks, on 1 and 2
// threads, in one process. Each measurement alternates the two allocators over
// several trials and keeps the median. Ends with one JSON line.
//
//   node bench/alloc/run.js [--pairs N] [--trials N]

const path = require('node:path');
const mw = require('../..'); // load native-memwatch first: it publishes the table
const { buildAddon } = require('../../scripts/install.js');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const PAIRS = opt('--pairs', 2_000_000);
const TRIALS = opt('--trials', 7);

buildAddon(__dirname, { quiet: true });
const bench = require(path.join(__dirname, 'build', 'Release', 'bench_alloc.node'));
const status = bench.importStatus();
if (status !== 0) throw new Error(`nmw_import returned ${status}: the table was not found`);

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function measure(size, threads) {
  const pairs = size >= 65536 ? Math.floor(PAIRS / 8) : PAIRS;
  bench.run(false, size, pairs / 10, threads); // warm both paths
  bench.run(true, size, pairs / 10, threads);
  const glibc = [];
  const ours = [];
  for (let t = 0; t < TRIALS; t++) {
    glibc.push(bench.run(false, size, pairs, threads));
    ours.push(bench.run(true, size, pairs, threads));
  }
  return { glibc: median(glibc), ours: median(ours) };
}

const rows = [];
for (const threads of [1, 2]) {
  for (const size of [16, 64, 1024, 65536]) {
    const { glibc, ours } = measure(size, threads);
    rows.push({ size, threads, glibc, ours, ratio: ours / glibc });
  }
}

const label = (n) => (n >= 1024 ? `${n / 1024} KiB` : `${n} B`);
console.log(`node ${process.version}, ${PAIRS} pairs per thread per trial, median of ${TRIALS} trials`);
console.log('size     threads  glibc ns/pair  ours ns/pair  ratio');
for (const r of rows) {
  console.log(`${label(r.size).padEnd(9)}${String(r.threads).padEnd(9)}${r.glibc.toFixed(2).padStart(13)}${r.ours.toFixed(2).padStart(14)}${r.ratio.toFixed(3).padStart(7)}`);
}
const at = (size, threads) => rows.find((r) => r.size === size && r.threads === threads).ratio;
const stats = mw.stats();
if (stats.tags['bench.alloc'].currBlocks !== 0) throw new Error('the benchmark leaked blocks');
console.log(JSON.stringify({ ratio_64B_1t: Number(at(64, 1).toFixed(3)), ratio_64B_2t: Number(at(64, 2).toFixed(3)) }));
