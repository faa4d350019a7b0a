'use strict';

// The public JS API fuzzed (issue 7): every exported function, every method of
// every exported class, every function hanging off an export (mw.finalizers.live
// ...), found by enumerating the module, so that what other modules add later is
// fuzzed too by the generic rule. Each gets hostile values in each argument
// position (test/helpers/fuzz.js: wrong types, NaN, +-Infinity, -0, 2^53 and
// beyond, negatives, a 1 MiB string, strings with NUL and lone surrogates,
// Symbols, BigInts, Proxies whose traps throw, objects whose getters throw) and
// methods get a wrong `this`. All in a child process, so a crash fails the test
// with the name of the call that caused it; side effects stay in a temp cwd.
//
// The generic rule: a call returns (or its promise settles) normally, or throws a
// TypeError/RangeError (or Error) with an ERR_* code and a message, or lets an
// error thrown by the caller's own getter/trap/valueOf through unchanged (the
// documented result: docs/api.md "Errors"). Specific expectations for today's
// exports are in the EXPECT table: exact error class and the argument named.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { buildFinalizerFixture } = require('../helpers/finalizer-fixture.js');
const { runFuzzChild } = require('../helpers/fuzz.js');

const FIN_FIXTURE = buildFinalizerFixture();

const SOURCE = `
  const mw = require(process.env.NMW_ROOT);
  const fx = require(process.env.NMW_FIN_FIXTURE);
  const liveTag = fx.tag('fuzz-api-live');
  const keep = [fx.createExternal(liveTag), fx.createExternal(liveTag)];
  // Errors our hostile values throw themselves: allowed to pass through.
  const OWN = /^(valueOf|toString|get|has|ownKeys|getOwnPropertyDescriptor|getPrototypeOf|set|defineProperty|apply|construct) trap$|^getter$/;
  const isClass = (f) => typeof f === 'function' && /^class\\b/.test(Function.prototype.toString.call(f));
  // Instances for the right \`this\`, by class name; unknown classes get only wrong-this calls.
  const FACTORIES = { Snapshot: () => mw.snapshot(), Region: () => mw.region() };
  // Valid arguments, by path, for the positions not being fuzzed.
  const TEMPLATES = {
    tag: [() => 'fuzz-api-t', () => ({})],
    setLimit: [() => 'fuzz-api-t', () => null],
    setExternal: [() => 'fuzz-api-t', () => false],
    'Snapshot#compareTo': [() => mw.snapshot(), () => ({})],
  };
  // These take a whole heap snapshot whenever the call is valid, and an extra
  // argument is ignored: fuzzing it would only take one snapshot per hostile
  // value (minutes under ASan). Their one argument is fuzzed.
  const ONE_ARGUMENT = new Set(['writeHeapSnapshot', 'HeapDiff']);
  mw.tag('fuzz-api-t');
  const targets = []; // [path, fn, kind]
  const seen = new Set();
  function collect(prefix, obj, depth) {
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      const p = prefix ? prefix + '.' + key : key;
      if (typeof v !== 'function' || seen.has(v)) continue;
      seen.add(v);
      if (isClass(v)) {
        targets.push([p, v, 'class']);
        for (const name of Object.getOwnPropertyNames(v.prototype)) {
          if (name === 'constructor') continue;
          const d = Object.getOwnPropertyDescriptor(v.prototype, name);
          if (typeof d.value === 'function') targets.push([key + '#' + name, d.value, 'method', key]);
          if (d.get) targets.push([key + '#get ' + name, d.get, 'getter', key]);
        }
        for (const sym of Object.getOwnPropertySymbols(v.prototype)) {
          const d = Object.getOwnPropertyDescriptor(v.prototype, sym);
          if (typeof d.value === 'function') targets.push([key + '#' + sym.toString(), d.value, 'method', key]);
        }
      } else {
        targets.push([p, v, 'function']);
        if (depth < 2) collect(p, v, depth + 1);
      }
    }
  }
  collect('', mw, 0);
  const violations = [];
  let calls = 0;
  // Functions that take a file path: the system's error for a path that does
  // not exist or cannot be (ENOENT, ENAMETOOLONG...) is their documented result.
  const FILE_FUNCTIONS = new Set(['summarizeHeapSnapshot', 'diffHeapSnapshots', 'writeHeapSnapshot', 'heapSnapshotOnSignal', 'heapSnapshotNearLimit']);
  const allowed = (o) => o.ok ||
    (['TypeError', 'RangeError', 'Error'].includes(o.error) && typeof o.code === 'string' && o.code.startsWith('ERR_') && o.message.length > 0) ||
    (o.error === 'Error' && typeof o.code === 'string' && /^E[A-Z0-9]+$/.test(o.code) && FILE_FUNCTIONS.has(o.label.split(' ')[0])) ||
    OWN.test(o.message);
  const results = [];
  async function settle(o) {
    if (o.ok && o.value && typeof o.value.then === 'function') {
      try { await o.value; } catch (err) {
        return { label: o.label, error: err && err.constructor ? err.constructor.name : typeof err, code: err && err.code, message: String(err && err.message) };
      }
    }
    return o;
  }
  const SKIP_VALUE = new Set(['huge string']); // once per function is enough (below)
  (async () => {
    for (const [p, fn, kind, cls] of targets) {
      const template = TEMPLATES[p] || [];
      const arity = ONE_ARGUMENT.has(p) ? 1 : Math.max(fn.length, template.length, 1) + 1;
      const self = kind === 'method' || kind === 'getter' ? (FACTORIES[cls] ? FACTORIES[cls]() : undefined) : undefined;
      for (let i = 0; i < arity; i++) {
        for (const [label, make] of HOSTILE) {
          if (SKIP_VALUE.has(label) && i > 0) continue;
          const args = template.map((m) => m());
          while (args.length < i) args.push(undefined);
          args[i] = make();
          const run = kind === 'class' ? () => new fn(...args) : () => fn.apply(self, args);
          const o = await settle(call(p + ' arg ' + i + ' = ' + label, run));
          calls++;
          if (!allowed(o)) violations.push(o);
        }
      }
      if (kind === 'method' || kind === 'getter') {
        for (const [label, make] of HOSTILE.concat([['another class instance', () => mw.snapshot()]])) {
          const weird = make();
          if (cls === 'Snapshot' && label === 'another class instance') continue;
          const o = await settle(call(p + ' this = ' + label, () => fn.apply(weird, (TEMPLATES[p] || []).map((m) => m()))));
          calls++;
          if (!allowed(o)) violations.push(o);
        }
      }
    }
    // Specific expectations for today's exports.
    const EXPECT = [
      ['tag NaN', () => mw.tag(NaN)],
      ['tag NUL', () => mw.tag('a\\u0000b')],
      ['tag lone surrogate', () => mw.tag('\\uD800x')],
      ['tag huge', () => mw.tag('x'.repeat(1 << 20))],
      ['tag Symbol', () => mw.tag(Symbol('s'))],
      ['tag options.external 1', () => mw.tag('fuzz-api-t', { external: 1 })],
      ['tag options.limit -1', () => mw.tag('fuzz-api-t', { limit: -1 })],
      ['tag options.limit 2**53', () => mw.tag('fuzz-api-t', { limit: 2 ** 53 })],
      ['tag options.limit NaN', () => mw.tag('fuzz-api-t', { limit: NaN })],
      ['tag options.limit 1n', () => mw.tag('fuzz-api-t', { limit: 1n })],
      ['setLimit unknown', () => mw.setLimit('fuzz-api-unknown', 1)],
      ['setLimit tag 2**53', () => mw.setLimit(2 ** 53, 1)],
      ['setLimit bytes Infinity', () => mw.setLimit('fuzz-api-t', Infinity)],
      ['resetPeak NaN', () => mw.resetPeak(NaN)],
      ['resetPeak BigInt', () => mw.resetPeak(10n)],
      ['sites "x"', () => mw.sites('x')],
      ['configure threshold 0', () => mw.configure({ external: { threshold: 0 } })],
      ['configure threshold 2**53', () => mw.configure({ external: { threshold: 2 ** 53 } })],
      ['configure threshold -0', () => mw.configure({ external: { threshold: -0 } })],
      ['setExternal external 1', () => mw.setExternal('fuzz-api-t', 1)],
      ['finalizers.live olderThanMs 2**53', () => mw.finalizers.live({ olderThanMs: 2 ** 53 }).length],
      ['finalizers.live olderThanMs 1e300', () => mw.finalizers.live({ olderThanMs: 1e300 }).length],
      ['finalizers.live all', () => mw.finalizers.live().length >= 2],
      ['finalizers.live limit NaN', () => mw.finalizers.live({ limit: NaN })],
      ['finalizers.live olderThanMs -Infinity', () => mw.finalizers.live({ olderThanMs: -Infinity })],
      ['finalizers onExit 1', () => mw.finalizers.onExit(1)],
      ['Region#delta wrong this', () => mw.Region.prototype.delta.call({})],
      ['Snapshot#statistics wrong this', () => mw.Snapshot.prototype.statistics.call(null)],
      ['compareTo non-snapshot', () => mw.snapshot().compareTo({})],
      ['new Region', () => new mw.Region()],
    ];
    const specific = [];
    for (const [label, fn] of EXPECT) {
      const o = await settle(call(label, fn));
      specific.push({ label, error: o.error, code: o.code, message: o.message, value: o.ok ? o.value : undefined });
    }
    keep.length = 0;
    say('RESULT ' + JSON.stringify({ targets: targets.map(([p]) => p), calls, violations, specific }));
  })();
`;

test('the public API: hostile values for every export, argument and `this`; no crash, only documented results', async () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-fuzz-api-'));
  let out;
  try {
    ({ results: [out] } = await runFuzzChild(SOURCE, { cwd, env: { NMW_FIN_FIXTURE: FIN_FIXTURE } }));
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
  for (const p of ['tag', 'stats', 'finalizers.live', 'finalizers.onExit', 'Region#delta', 'Snapshot#compareTo', 'Region']) {
    assert.ok(out.targets.includes(p), `${p} was not enumerated: ${out.targets.join(', ')}`);
  }
  assert.ok(out.calls > 2000, `only ${out.calls} calls`);
  assert.deepEqual(out.violations, []);
  const by = Object.fromEntries(out.specific.map((s) => [s.label, s]));
  const expectError = (label, error, re, code) => {
    const s = by[label];
    assert.equal(s.error, error, `${label}: ${JSON.stringify(s)}`);
    assert.match(s.message, re, label);
    if (code) assert.equal(s.code, code, label);
  };
  expectError('tag NaN', 'TypeError', /^name must be a string/);
  expectError('tag NUL', 'RangeError', /^name /);
  expectError('tag lone surrogate', 'RangeError', /^name /);
  expectError('tag huge', 'RangeError', /^name /);
  expectError('tag Symbol', 'TypeError', /^name must be a string/);
  expectError('tag options.external 1', 'TypeError', /^options\.external must be a boolean/);
  expectError('tag options.limit -1', 'RangeError', /^options\.limit /);
  expectError('tag options.limit 2**53', 'RangeError', /^options\.limit /);
  expectError('tag options.limit NaN', 'RangeError', /^options\.limit /);
  expectError('tag options.limit 1n', 'TypeError', /^options\.limit /);
  expectError('setLimit unknown', 'RangeError', /^tag "fuzz-api-unknown" is not a registered tag/, 'ERR_NMW_UNKNOWN_TAG');
  expectError('setLimit tag 2**53', 'RangeError', /^tag /);
  expectError('setLimit bytes Infinity', 'RangeError', /^bytes /);
  expectError('resetPeak NaN', 'RangeError', /^tag /);
  expectError('resetPeak BigInt', 'TypeError', /^tag /);
  expectError('sites "x"', 'TypeError', /^options must be an object/);
  expectError('configure threshold 0', 'RangeError', /^options\.external\.threshold /);
  expectError('configure threshold 2**53', 'RangeError', /^options\.external\.threshold /);
  expectError('configure threshold -0', 'RangeError', /^options\.external\.threshold /);
  expectError('setExternal external 1', 'TypeError', /^external must be a boolean/);
  // No record is 2^53 ms old (before the fix in C, every live record came back).
  assert.equal(by['finalizers.live olderThanMs 2**53'].value, 0);
  assert.equal(by['finalizers.live olderThanMs 1e300'].value, 0);
  assert.equal(by['finalizers.live all'].value, true);
  expectError('finalizers.live limit NaN', 'RangeError', /^options\.limit /);
  expectError('finalizers.live olderThanMs -Infinity', 'RangeError', /^options\.olderThanMs /);
  expectError('finalizers onExit 1', 'TypeError', /^listener /);
  expectError('Region#delta wrong this', 'TypeError', /^this must be a Region/, 'ERR_INVALID_THIS');
  expectError('Snapshot#statistics wrong this', 'TypeError', /^this must be a Snapshot/, 'ERR_INVALID_THIS');
  expectError('compareTo non-snapshot', 'TypeError', /^older must be a Snapshot/);
  expectError('new Region', 'TypeError', /^Region cannot be constructed directly/, 'ERR_ILLEGAL_CONSTRUCTOR');
});
