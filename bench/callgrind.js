'use strict';
// Instructions per call of a C harness linked with the core (src/core/*.c),
// counted by callgrind: repeatable where times on a shared machine are not.
// Used by bench/alloc and bench/external when valgrind is installed.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');

const haveValgrind = () => spawnSync('valgrind', ['--version']).status === 0;

/**
 * Builds source (a C file) with the core, runs it under callgrind and returns
 * { counts: {name: inclusive instructions of the function's largest call}, stdout }.
 * The harness calls each measured function once for a warm-up and once for the
 * run that is measured (the larger count).
 */
function countCalls(source, names) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-instr-'));
  try {
    const exe = path.join(dir, 'harness');
    const core = fs.readdirSync(path.join(ROOT, 'src/core')).filter((f) => f.endsWith('.c')).map((f) => path.join(ROOT, 'src/core', f));
    execFileSync('gcc', ['-std=c11', '-D_GNU_SOURCE', '-O2', '-g', source, ...core, '-luv', '-pthread', '-o', exe]);
    const cg = path.join(dir, 'cg.out');
    const run = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${cg}`, exe], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`callgrind of ${source} failed:\n${run.stderr}`);
    const annotate = execFileSync('callgrind_annotate', ['--inclusive=yes', cg], { encoding: 'utf8' });
    const counts = {};
    for (const name of names) {
      // The calls: "=> ...:name (1x)" lines.
      const found = [...annotate.matchAll(new RegExp(`([0-9,]+) \\([^)]*\\)\\s+=> [^\\n]*:${name} \\(1x\\)`, 'g'))];
      if (found.length === 0) throw new Error(`callgrind_annotate shows no call of ${name}`);
      counts[name] = Math.max(...found.map((m) => Number(m[1].replace(/,/g, ''))));
    }
    return { counts, stdout: run.stdout };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { haveValgrind, countCalls };
