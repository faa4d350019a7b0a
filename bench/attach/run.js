'use strict';
// bench/attach: the cost of attach() (docs/attach.md, docs/benchmarks.md).
//   workload: better-sqlite3 inserting 100,000 rows (in-memory, one transaction),
//             unattached vs attached, goal at most 1.05x;
//   malloc:   an attached addon's malloc+free pair vs the same addon unattached,
//             goal at most 2x.
// Attaching is for the life of a process, so each trial is a fresh child process
// and the two kinds alternate (base, attached, base, ...) in this one run; each
// child reports its own timings and the ratio is of the medians.
// On a loaded machine wall-clock times vary by 2x from one process to the next,
// so when valgrind is installed the ratios are also measured as instruction
// counts (callgrind): each kind runs with n and with 0 rows (pairs), and the
// difference is the instructions of the work itself, startup excluded. Those
// are the ratios of the JSON line then (method: "callgrind").
//   node bench/attach/run.js [--trials N] [--no-callgrind]
// Ends with one JSON line: {ratio_workload, ratio_malloc, ...}.

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const trials = Number(args[args.indexOf('--trials') + 1]) || 7;
const N_ROWS = Number(process.env.NMW_BENCH_N || 100000);
const N_PAIRS = Number(process.env.NMW_BENCH_N || 2000000);
const REPS = Number(process.env.NMW_BENCH_REPS || 3);

function child(kind, attached) {
  if (attached) require(ROOT).attach();
  if (kind === 'workload') {
    const Database = require('better-sqlite3');
    const times = [];
    for (let r = 0; r < REPS; r++) {
      const db = new Database(':memory:');
      db.exec('create table t (a integer primary key, b text, c real)');
      const insert = db.prepare('insert into t (b, c) values (?, ?)');
      const t0 = process.hrtime.bigint();
      db.transaction(() => {
        for (let i = 0; i < N_ROWS; i++) insert.run(`row number ${i}`, i * 0.5);
      })();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      db.close();
    }
    process.stdout.write(`${JSON.stringify({ ms: Math.min(...times) })}\n`);
  } else {
    const { buildAddon } = require(path.join(ROOT, 'scripts', 'install.js'));
    buildAddon(__dirname, { quiet: true });
    const bench = require(path.join(__dirname, 'build', 'Release', 'bench_attach.node'));
    const N = N_PAIRS;
    if (REPS > 1) bench.loop(N / 10, 64); // warm
    const ns = [];
    for (let r = 0; r < REPS; r++) ns.push(bench.loop(N, 64) / Math.max(N, 1));
    const info = attached && !process.env.NMW_BENCH_QUIET ? Object.values(require(ROOT).attached().addons).find((a) => a.file === 'bench_attach.node') : null;
    process.stdout.write(`${JSON.stringify({ nsPerPair: Math.min(...ns), counted: info ? info.allocs : 0 })}\n`);
  }
}

function once(kind, attached) {
  const r = spawnSync(process.execPath, [__filename], {
    cwd: ROOT,
    env: { ...process.env, NMW_BENCH_CHILD: kind, NMW_BENCH_ATTACH: attached ? '1' : '0' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${kind} child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

// Instructions of one child run (valgrind's callgrind, whole process).
function instructions(kind, attached, n) {
  const r = spawnSync(
    'valgrind',
    // --single-threaded: no concurrent JIT or GC threads, whose timing otherwise
    // changes the count by several percent from run to run.
    ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', __filename],
    {
      cwd: ROOT,
      env: { ...process.env, NMW_BENCH_CHILD: kind, NMW_BENCH_ATTACH: attached ? '1' : '0', NMW_BENCH_N: String(n), NMW_BENCH_REPS: '1' },
      encoding: 'utf8',
    },
  );
  const m = /Collected : (\d+)/.exec(r.stderr || '');
  if (r.status !== 0 || !m) throw new Error(`callgrind ${kind} failed: ${r.stderr}`);
  return Number(m[1]);
}

function haveValgrind() {
  return spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).status === 0;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main() {
  // Build the microbenchmark's addon once before timing anything.
  require(path.join(ROOT, 'scripts', 'install.js')).buildAddon(__dirname, { quiet: true });
  const w = { base: [], attached: [] };
  const m = { base: [], attached: [] };
  let counted = 0;
  for (let t = 0; t < trials; t++) {
    w.base.push(once('workload', false).ms);
    w.attached.push(once('workload', true).ms);
    m.base.push(once('malloc', false).nsPerPair);
    const a = once('malloc', true);
    m.attached.push(a.nsPerPair);
    counted = a.counted;
  }
  const ratios = w.base.map((b, i) => w.attached[i] / b);
  const timeWorkload = +(median(w.attached) / median(w.base)).toFixed(3);
  const timeMalloc = +(median(m.attached) / median(m.base)).toFixed(3);
  let cg = null;
  if (!args.includes('--no-callgrind') && haveValgrind()) {
    const per = (kind, attached, n) => (instructions(kind, attached, n) - instructions(kind, attached, 0)) / n;
    cg = {
      workload_base: per('workload', false, 100000),
      workload_attached: per('workload', true, 100000),
      malloc_base: per('malloc', false, 300000),
      malloc_attached: per('malloc', true, 300000),
    };
  }
  const result = {
    method: cg ? 'callgrind' : 'time',
    ratio_workload: cg ? +(cg.workload_attached / cg.workload_base).toFixed(3) : timeWorkload,
    ratio_malloc: cg ? +(cg.malloc_attached / cg.malloc_base).toFixed(3) : timeMalloc,
    ratio_workload_time: timeWorkload,
    ratio_malloc_time: timeMalloc,
    instructions_per_row_base: cg ? +cg.workload_base.toFixed(1) : null,
    instructions_per_row_attached: cg ? +cg.workload_attached.toFixed(1) : null,
    instructions_per_pair_base: cg ? +cg.malloc_base.toFixed(1) : null,
    instructions_per_pair_attached: cg ? +cg.malloc_attached.toFixed(1) : null,
    workload_ms_base: +median(w.base).toFixed(1),
    workload_ms_attached: +median(w.attached).toFixed(1),
    workload_pair_ratio_min: +Math.min(...ratios).toFixed(3),
    workload_pair_ratio_max: +Math.max(...ratios).toFixed(3),
    malloc_ns_base: +median(m.base).toFixed(2),
    malloc_ns_attached: +median(m.attached).toFixed(2),
    malloc_pairs_counted: counted,
    trials,
  };
  console.log(`better-sqlite3 100,000 inserts: ${result.workload_ms_base} ms unattached, ${result.workload_ms_attached} ms attached (x${timeWorkload}; per-pair ratios ${result.workload_pair_ratio_min}..${result.workload_pair_ratio_max})`);
  console.log(`malloc(64)+free pair: ${result.malloc_ns_base} ns unattached, ${result.malloc_ns_attached} ns attached (x${timeMalloc})`);
  if (cg) {
    console.log(`callgrind: ${result.instructions_per_row_base} -> ${result.instructions_per_row_attached} instructions per inserted row (x${result.ratio_workload}), ` +
      `${result.instructions_per_pair_base} -> ${result.instructions_per_pair_attached} per malloc+free pair (x${result.ratio_malloc})`);
  }
  console.log(JSON.stringify(result));
}

if (process.env.NMW_BENCH_CHILD) {
  child(process.env.NMW_BENCH_CHILD, process.env.NMW_BENCH_ATTACH === '1');
} else {
  main();
}
