'use strict';

// A whole-program figure (issue 8): a tree of small nodes built from JS node by
// node (one napi call per node: a 32 B node and its strdup'd label; one per edge:
// the parent's children array grows by realloc), counted and freed in C. The same
// addon source built tracked (native_memwatch.h), with plain malloc, and with
// plain malloc asked for the chunk sizes the tracker asks libc for ("padded": the
// header, the size class's capacity and the canary), in one process; trials
// rotate the order and the medians are compared. tracked / plain is the goal's
// figure; padded / plain is what the larger chunks alone cost glibc, tracked /
// padded what the tracker's own code costs.
//
// Times on this shared machine move from trial to trial (per-trial ratios of 0.7
// to 2.0 were seen in one run), so when valgrind is installed the three builds
// are also counted in instructions (callgrind, every thread of the process, node
// --single-threaded: with V8's concurrent threads the count moved by 9% between
// two runs of the same build, without them by 0.2%): each runs in a process of its
// own for 1 and for 4 trials, and the difference over 3 is one steady trial's
// count (the process's start-up and its first trial, which raises every peak,
// cancel out). --no-instructions skips that part (about a
// minute).
//
//   node bench/workload/run.js [--nodes N] [--trials T] [--no-instructions]
//
// Ends with one JSON line: {"ratio_workload": tracked / plain,
// "instr_ratio_workload": tracked / plain in instructions, ...}.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const mw = require('../..'); // load native-memwatch first: it publishes the table
const { buildAddon } = require('../../scripts/install.js');

const { args, opt } = require('../args.js');
const NODES = opt('--nodes', 200000);
const TRIALS = opt('--trials', 11);
const FANOUT = 4;
const CHILD = args.includes('--child') ? args[args.indexOf('--child') + 1] : null;

buildAddon(__dirname, { quiet: true });
const dir = path.join(__dirname, 'build', 'Release');
const tracked = require(path.join(dir, 'workload_tracked.node'));
const plain = require(path.join(dir, 'workload_plain.node'));
const padded = require(path.join(dir, 'workload_padded.node'));
if (tracked.init() !== 'ok') throw new Error('the tracked addon did not import native-memwatch');
plain.init();
padded.init();
const addons = { tracked, plain, padded };

// Each trial starts from a collected heap: V8's collections of the previous
// trial's 200,000 handles otherwise land in random trials (per-trial ratios of
// 0.69..2.0 were seen without this).
require('node:v8').setFlagsFromString('--expose-gc');
const collect = require('node:vm').runInNewContext('gc');

// Breadth-first: node i's parent is floor((i - 1) / FANOUT).
function run(addon) {
  collect();
  const t0 = process.hrtime.bigint();
  const nodes = new Array(NODES);
  nodes[0] = addon.node(0);
  for (let i = 1; i < NODES; i++) {
    nodes[i] = addon.node(i);
    addon.link(nodes[Math.floor((i - 1) / FANOUT)], nodes[i]);
  }
  if (addon.sum(nodes[0]) !== NODES) throw new Error('wrong tree');
  addon.destroy(nodes[0]);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
if (CHILD) {
  // Counted by the parent under callgrind: TRIALS trials of one build, nothing else.
  for (let t = 0; t < TRIALS; t++) run(addons[CHILD]);
  process.exit(0);
}

for (const a of Object.values(addons)) run(a); // warm all three
const names = Object.keys(addons);
const times = { tracked: [], plain: [], padded: [] };
const ratios = [];
for (let t = 0; t < TRIALS; t++) {
  // Rotate which goes first.
  for (let j = 0; j < names.length; j++) {
    const k = names[(t + j) % names.length];
    times[k].push(run(addons[k]));
  }
  ratios.push(times.tracked[t] / times.plain[t]);
}
/** Instructions of one steady trial of a build: (4 trials - 1 trial) / 3. */
function instructionsPerTrial(variant) {
  const total = (trials) => {
    const out = path.join(os.tmpdir(), `nmw-workload-${process.pid}-${variant}-${trials}.cg`);
    const r = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, '--single-threaded', __filename,
      '--child', variant, '--trials', String(trials), '--nodes', String(NODES)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`callgrind of the ${variant} build failed:\n${r.stderr}`);
    const m = /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(out, 'utf8'));
    fs.rmSync(out, { force: true });
    if (!m) throw new Error(`no instruction total in callgrind's output for the ${variant} build`);
    return Number(m[1]);
  };
  return (total(4) - total(1)) / 3;
}
const instr = {};
if (!args.includes('--no-instructions') && spawnSync('valgrind', ['--version']).status === 0) {
  for (const k of names) instr[k] = instructionsPerTrial(k);
}

const row = mw.stats().tags['bench.workload'];
if (row.currBlocks !== 0) throw new Error(`blocks left: ${row.currBlocks}`);
const mt = median(times.tracked), mp = median(times.plain), md = median(times.padded);
console.log(`${NODES} nodes (fanout ${FANOUT}), ${TRIALS} alternating trials`);
console.log(`tracked ${mt.toFixed(1)} ms, plain malloc ${mp.toFixed(1)} ms (medians); ratio ${(mt / mp).toFixed(3)}; per-trial ratios ${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)}`);
console.log(`plain malloc of the tracker's chunk sizes ${md.toFixed(1)} ms: padded / plain ${(md / mp).toFixed(3)} (the larger chunks), tracked / padded ${(mt / md).toFixed(3)} (the tracker's code)`);
if (instr.tracked) {
  console.log(`callgrind, one steady trial: plain ${(instr.plain / 1e6).toFixed(1)}M instructions, padded ${(instr.padded / 1e6).toFixed(1)}M, tracked ${(instr.tracked / 1e6).toFixed(1)}M; tracked / plain ${(instr.tracked / instr.plain).toFixed(3)}, padded / plain ${(instr.padded / instr.plain).toFixed(3)}`);
}
console.log(`tracked blocks per trial: ${row.allocs / (TRIALS + 1)} allocations, ${row.reallocs / (TRIALS + 1)} reallocs`);
console.log(JSON.stringify({
  ratio_workload: +(mt / mp).toFixed(3),
  ratio_workload_median_of_ratios: +median(ratios).toFixed(3),
  workload_ms_tracked: +mt.toFixed(1),
  workload_ms_plain: +mp.toFixed(1),
  workload_ms_padded: +md.toFixed(1),
  ratio_padded_vs_plain: +(md / mp).toFixed(3),
  ratio_tracked_vs_padded: +(mt / md).toFixed(3),
  ...(instr.tracked ? {
    instr_ratio_workload: +(instr.tracked / instr.plain).toFixed(3),
    instr_ratio_padded_vs_plain: +(instr.padded / instr.plain).toFixed(3),
    instructions_per_trial_plain: Math.round(instr.plain),
    instructions_per_trial_tracked: Math.round(instr.tracked),
  } : {}),
  nodes: NODES,
  trials: TRIALS,
}));
