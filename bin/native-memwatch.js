#!/usr/bin/env node
'use strict';

// native-memwatch: run an app with the tracker preloaded and write a report,
// or render a report again. Guide: docs/cli.md.

const fs = require('node:fs');
const path = require('node:path');

const USAGE = `Usage:
  native-memwatch run [options] -- node app.js [args...]
  native-memwatch run [options] app.js [args...]
  native-memwatch report [--text | --json] [--out FILE] REPORT.json

run options:
  --interval MS    sampling interval in milliseconds (default 100, at least 10)
  --duration S     stop the app (SIGTERM) after S seconds
  --out PATH       report path without extension, or a directory (default ./native-memwatch-report-<pid>)
  --attach         account other addons' memory too (mw.attach())
  --heap           diff the JS heap from start to exit: top constructors in the
                   report (two heap snapshots: costs time and memory at exit)
  --quiet          no progress or status on stderr

report options:
  --text           print a terminal summary
  --json           print the verdict and the summary fields as JSON
  --out FILE       where to write the HTML (default: REPORT.html beside the JSON)
`;

class UsageError extends Error {}

function number(value, name, min) {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n < min) throw new UsageError(`${name} must be a number of at least ${min} (received ${value === undefined ? 'nothing' : JSON.stringify(value)})`);
  return n;
}

function parseRun(args) {
  const opts = { interval: 100, duration: null, out: null, attach: false, heap: false, quiet: false };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('--')) break;
    const [key, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => (inline !== undefined ? inline : args[++i]);
    if (key === '--interval') opts.interval = Math.round(number(value(), '--interval', 10));
    else if (key === '--duration') opts.duration = number(value(), '--duration', 0.001);
    else if (key === '--out') {
      opts.out = value();
      if (!opts.out) throw new UsageError('--out needs a path');
    } else if (key === '--attach') opts.attach = true;
    else if (key === '--heap') opts.heap = true;
    else if (key === '--quiet') opts.quiet = true;
    else throw new UsageError(`unknown option ${key}`);
  }
  const command = args.slice(i);
  if (command.length === 0) throw new UsageError('run needs a program: native-memwatch run -- node app.js');
  if (opts.attach && typeof require('../lib/index.js').attach !== 'function') {
    throw new UsageError('--attach needs mw.attach(), which this version of native-memwatch does not have');
  }
  return { opts, command };
}

function parseReport(args) {
  const opts = { mode: 'html', out: null, file: null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--text') opts.mode = 'text';
    else if (a === '--json') opts.mode = 'json';
    else if (a === '--out') opts.out = args[++i];
    else if (a.startsWith('--out=')) opts.out = a.slice(6);
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else if (opts.file) throw new UsageError(`report takes one file (received ${opts.file} and ${a})`);
    else opts.file = a;
  }
  if (!opts.file) throw new UsageError('report needs a REPORT.json file');
  return opts;
}

function loadReport(file) {
  let report;
  try {
    report = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${err.message}`);
  }
  if (!report || report.format !== 'native-memwatch-report' || !Array.isArray(report.samples)) {
    throw new UsageError(`${file} is not a native-memwatch report`);
  }
  return report;
}

async function main(argv) {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'run') {
    const { opts, command } = parseRun(rest);
    return require('../lib/cli/run.js').run(command, opts);
  }
  if (sub === 'report') {
    const opts = parseReport(rest);
    const report = loadReport(opts.file);
    // A report keeps the verdict it was written with; recompute it for older files.
    report.verdict = require('../lib/cli/verdict.js').verdict(report);
    if (opts.mode === 'text') {
      process.stdout.write(require('../lib/cli/text.js').renderText(report));
    } else if (opts.mode === 'json') {
      const { samples, gc, ...summary } = report;
      process.stdout.write(`${JSON.stringify({ ...summary, sampleCount: samples.length, gcCount: gc.length })}\n`);
    } else {
      const out = opts.out || opts.file.replace(/\.json$/, '') + '.html';
      fs.writeFileSync(out, require('../lib/cli/html.js').renderHtml(report));
      process.stderr.write(`native-memwatch: wrote ${path.resolve(out)}\n`);
    }
    return 0;
  }
  throw new UsageError(`unknown command ${JSON.stringify(sub)}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(`native-memwatch: ${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`native-memwatch: ${(err && err.stack) || err}\n`);
      process.exitCode = 1;
    }
  },
);
