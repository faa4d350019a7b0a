'use strict';
// bench/attach: the cost of attach() (docs/attach.md, docs/benchmarks.md).
//   workload: better-sqlite3 inserting 100,000 rows (in-memory, one transaction),
//             unattached vs attached, goal at most 1.05x;
//   malloc:   an attached addon's malloc+free pair vs the same addon unattached,
//             goal at most 2x.
// Attaching is for the life of a process, so each trial is a fresh child process
// and the two kinds alternate (base, attached, base, ...) in this one run; each
// child reports its own timings and the ratio is of the medians.
//   node bench/attach/run.js [--trials N]
// Ends with one JSON line: {ratio_workload, ratio_malloc, ...}.

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const trials = Number(args[args.indexOf('--trials') + 1]) || 7;

function child(kind, attached) {
  if (attached) require(ROOT).attach();
  if (kind === 'workload') {
    const Database = require('better-sqlite3');
    const times = [];
    for (let r = 0; r < 3; r++) {
      const db = new Database(':memory:');
      db.exec('create table t (a integer primary key, b text, c real)');
      const insert = db.prepare('insert into t (b, c) values (?, ?)');
      const t0 = process.hrtime.bigint();
      db.transaction(() => {
        for (let i = 0; i < 100000; i++) insert.run(`row number ${i}`, i * 0.5);
      })();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      db.close();
    }
    process.stdout.write(`${JSON.stringify({ ms: Math.min(...times) })}\n`);
  } else {
    const { buildAddon } = require(path.join(ROOT, 'scripts', 'install.js'));
    buildAddon(__dirname, { quiet: true });
    const bench = require(path.join(__dirname, 'build', 'Release', 'bench_attach.node'));
    const N = 2000000;
    bench.loop(N / 10, 64); // warm
    const ns = [];
    for (let r = 0; r < 5; r++) ns.push(bench.loop(N, 64) / N);
    const info = attached ? Object.values(require(ROOT).attached().addons).find((a) => a.file === 'bench_attach.node') : null;
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
  const result = {
    ratio_workload: +(median(w.attached) / median(w.base)).toFixed(3),
    ratio_malloc: +(median(m.attached) / median(m.base)).toFixed(3),
    workload_ms_base: +median(w.base).toFixed(1),
    workload_ms_attached: +median(w.attached).toFixed(1),
    workload_pair_ratio_min: +Math.min(...ratios).toFixed(3),
    workload_pair_ratio_max: +Math.max(...ratios).toFixed(3),
    malloc_ns_base: +median(m.base).toFixed(2),
    malloc_ns_attached: +median(m.attached).toFixed(2),
    malloc_pairs_counted: counted,
    trials,
  };
  console.log(`better-sqlite3 100,000 inserts: ${result.workload_ms_base} ms unattached, ${result.workload_ms_attached} ms attached (x${result.ratio_workload}; per-pair ratios ${result.workload_pair_ratio_min}..${result.workload_pair_ratio_max})`);
  console.log(`malloc(64)+free pair: ${result.malloc_ns_base} ns unattached, ${result.malloc_ns_attached} ns attached (x${result.ratio_malloc})`);
  console.log(JSON.stringify(result));
}

if (process.env.NMW_BENCH_CHILD) {
  child(process.env.NMW_BENCH_CHILD, process.env.NMW_BENCH_ATTACH === '1');
} else {
  main();
}
