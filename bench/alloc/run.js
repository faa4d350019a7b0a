#!/usr/bin/env node
'use strict';
// bench/alloc: ns per allocation+free pair, glibc malloc/free against
// native-memwatch's nmw_malloc/nmw_free called through the function table (as a
// consumer addon calls them), for 16 B, 64 B, 1 KiB and 64 KiB blocks, on 1 and 2
// threads, in one process. Each measurement alternates the two allocators over
// several trials and keeps the median. Ends with one JSON line.
//
// Also, when valgrind is there, callgrind's instructions per 64 B pair (ours /
// glibc, the core linked directly: bench/alloc/instructions.c) and the share of
// allocations that took the placement rule's slow path over every size up to
// 4 KiB; and the memory row: RSS of 1,000,000 live 64 B blocks, ours / glibc,
// each measured in a fresh child process.
//
//   node bench/alloc/run.js [--pairs N] [--trials N]

const path = require('node:path');
const { execFileSync } = require('node:child_process');
const mw = require('../..'); // load native-memwatch first: it publishes the table
const { buildAddon } = require('../../scripts/install.js');
const { haveValgrind, countCalls } = require('../callgrind.js');

const { args, opt } = require('../args.js');
const PAIRS = opt('--pairs', 2_000_000);
const RSS_BLOCKS = 1_000_000;
const TRIALS = opt('--trials', 7);

buildAddon(__dirname, { quiet: true });
const BINARY = path.join(__dirname, 'build', 'Release', 'bench_alloc.node');

// The memory row's child: node run.js --rss-child <tracked 0|1>
if (args[0] === '--rss-child') {
  require(BINARY).importStatus();
  const b = require(BINARY);
  const tracked = args[1] === '1';
  global.gc?.();
  const before = process.memoryUsage().rss;
  b.hold(tracked, 64, RSS_BLOCKS);
  const after = process.memoryUsage().rss;
  b.release();
  console.log(JSON.stringify({ rss: after - before }));
  process.exit(0);
}

const bench = require(BINARY);
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
// Memory: RSS growth of 1,000,000 live 64 B blocks, median of 3 fresh children each.
function rssOf(tracked) {
  const out = execFileSync(process.execPath, [__filename, '--rss-child', tracked ? '1' : '0'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()).rss;
}
const rssGlibc = [];
const rssOurs = [];
for (let t = 0; t < 3; t++) {
  rssGlibc.push(rssOf(false));
  rssOurs.push(rssOf(true));
}
const ratioRss = median(rssOurs) / median(rssGlibc);
console.log(`RSS of ${RSS_BLOCKS} live 64 B blocks: glibc ${(median(rssGlibc) / 1048576).toFixed(1)} MiB, ours ${(median(rssOurs) / 1048576).toFixed(1)} MiB, ratio ${ratioRss.toFixed(3)}`);

// Instructions (callgrind), when valgrind is installed.
let instr = null;
if (haveValgrind()) {
  const { counts, stdout } = countCalls(path.join(__dirname, 'instructions.c'), ['glibc_pairs', 'ours_pairs']);
  const slow = /placement_slow_fraction ([0-9.]+)/.exec(stdout);
  const pairs = 3000 * 32;
  instr = { glibc: counts.glibc_pairs / pairs, ours: counts.ours_pairs / pairs, slow: slow ? Number(slow[1]) : null };
  console.log(`callgrind, 64 B pair: glibc ${instr.glibc.toFixed(1)} instructions, ours ${instr.ours.toFixed(1)}, ratio ${(instr.ours / instr.glibc).toFixed(3)}; placement slow path: ${instr.slow} of allocations (every size to 4 KiB)`);
}

const at = (size, threads) => rows.find((r) => r.size === size && r.threads === threads).ratio;
const stats = mw.stats();
if (stats.tags['bench.alloc'].currBlocks !== 0) throw new Error('the benchmark leaked blocks');
const summary = {};
for (const r of rows) summary[`ratio_${label(r.size).replace(' ', '')}_${r.threads}t`] = Number(r.ratio.toFixed(3));
summary.ratio_rss_64B = Number(ratioRss.toFixed(3));
if (instr) {
  summary.instr_ratio_64B = Number((instr.ours / instr.glibc).toFixed(3));
  summary.instr_64B_ours = Number(instr.ours.toFixed(1));
  summary.instr_64B_glibc = Number(instr.glibc.toFixed(1));
  summary.placement_slow_fraction = instr.slow;
}
console.log(JSON.stringify(summary));
