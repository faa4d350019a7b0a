'use strict';

// The internal binding (src/addon) fuzzed directly, bypassing lib/'s checks
// (issue 7, item 3): every numeric argument of every binding function gets NaN,
// +-Infinity, -1, -0, fractions, 2^31, 2^32, 2^53 and beyond, and every other
// hostile value (test/helpers/fuzz.js). The C side must range-check each number
// itself: the outcome of every call is a normal return or a TypeError/RangeError
// (or an Error with an ERR_ code), and the process never crashes. Functions the
// binding gains later are fuzzed by the generic rule (hostile values in the first
// three positions).
//
// Before the fix: finLive(-1, -1, 0, NaN, true) with live records wrote past a
// heap buffer (malloc(): invalid size, SIGABRT), finLive with olderThanMs 2^53
// returned every live record, finStats(NaN) cast NaN to an owner id, and
// tagRegister(name, 1.5) registered an external tag.

const test = require('node:test');
const assert = require('node:assert/strict');

const { buildFinalizerFixture } = require('../helpers/finalizer-fixture.js');
const { runFuzzChild } = require('../helpers/fuzz.js');

const FIN_FIXTURE = buildFinalizerFixture();

const SOURCE = `
  const mw = require(process.env.NMW_ROOT);
  const binding = require(process.env.NMW_ROOT + '/lib/binding.js');
  const fx = require(process.env.NMW_FIN_FIXTURE);
  const tagId = mw.tag('fuzz-binding');
  // Live finalizer records, so that finLive has rows to copy.
  const keep = [fx.createExternal(tagId), fx.createExternal(tagId), fx.createExternal(tagId)];
  const region = binding.regionBegin();
  // A valid call of each function; each argument in turn is replaced.
  const TEMPLATES = {
    tagRegister: [() => 'fuzz-binding-reg', () => 0],
    tagLookup: [() => 'fuzz-binding'],
    tagSetLimit: [() => tagId, () => null],
    resetPeak: [() => tagId],
    externalThreshold: [() => 1048576],
    regionDelta: [() => region],
    regionClose: [() => binding.regionBegin()],
    tagSetExternal: [() => tagId, () => false],
    finInit: [() => function stack() { return ''; }, () => 0],
    finCaptureStacks: [() => false],
    finStats: [() => -1],
    finLive: [() => -1, () => -1, () => 0, () => -1, () => true],
    finExit: [() => 'unknown', () => null, () => false],
    finExitReport: [() => 'now'],
    '_testing.finalizeAgain': [() => 2 ** 40],
  };
  const fns = [];
  for (const [k, v] of Object.entries(binding)) if (typeof v === 'function') fns.push([k, v]);
  for (const [k, v] of Object.entries(binding._testing || {})) if (typeof v === 'function') fns.push(['_testing.' + k, v]);
  const violations = [];
  let calls = 0;
  const allowed = (o) => o.ok || o.error === 'TypeError' || o.error === 'RangeError' ||
    (o.error === 'Error' && typeof o.code === 'string' && o.code.startsWith('ERR_'));
  for (const [name, fn] of fns) {
    const template = TEMPLATES[name] || [() => undefined, () => undefined, () => undefined];
    for (let i = 0; i <= template.length; i++) {
      for (const [label, make] of HOSTILE) {
        // finalizeAgain with a valid record id runs a finalizer by design (test-only).
        if (name === '_testing.finalizeAgain' && ['2**31', '2**32'].includes(label)) continue;
        const args = template.map((m) => m());
        args[i] = make();
        const o = call(name + ' arg ' + i + ' = ' + label, () => fn(...args));
        calls++;
        if (!allowed(o)) violations.push(o);
      }
    }
  }
  // Specific expectations.
  const expect = (label, fn) => { const o = call(label, fn); return { label, error: o.error, message: o.message, value: o.ok ? o.value : undefined }; };
  const specific = [
    expect('finLive limit NaN', () => binding.finLive(-1, -1, 0, NaN, true)),
    expect('finLive tag NaN', () => binding.finLive(-1, NaN, 0, -1, true)),
    expect('finLive olderThanMs Infinity', () => binding.finLive(-1, -1, Infinity, -1, true)),
    expect('finLive olderThanMs 2**53', () => binding.finLive(-1, -1, 2 ** 53, -1, false).length),
    expect('finLive olderThanMs 1e300', () => binding.finLive(-1, -1, 1e300, -1, false).length),
    expect('finLive all', () => binding.finLive(-1, -1, 0, -1, false).length),
    expect('finLive withStacks 1', () => binding.finLive(-1, -1, 0, -1, 1)),
    expect('finStats scope NaN', () => binding.finStats(NaN)),
    expect('finStats scope -3', () => binding.finStats(-3)),
    expect('finInit threadId NaN', () => binding.finInit(() => '', NaN)),
    expect('tagRegister flags 1.5', () => binding.tagRegister('fuzz-binding-flags', 1.5)),
    expect('tagRegister flags -1', () => binding.tagRegister('fuzz-binding-flags', -1)),
    expect('tagSetExternal 1', () => binding.tagSetExternal(tagId, 1)),
    expect('finCaptureStacks "yes"', () => binding.finCaptureStacks('yes')),
  ];
  keep.length = 0;
  say('RESULT ' + JSON.stringify({ functions: fns.map(([n]) => n), calls, violations, specific }));
`;

test('the binding: hostile values for every argument of every function; C checks every number', async () => {
  const { results } = await runFuzzChild(SOURCE, { env: { NMW_FIN_FIXTURE: FIN_FIXTURE } });
  assert.equal(results.length, 1);
  const { functions, calls, violations, specific } = results[0];
  assert.ok(functions.includes('finLive') && functions.includes('_testing.finalizeAgain'), functions.join());
  assert.ok(calls > 1000, `only ${calls} calls`);
  assert.deepEqual(violations, []);
  const by = Object.fromEntries(specific.map((s) => [s.label, s]));
  const range = (label, re) => {
    assert.equal(by[label].error, 'RangeError', `${label}: ${JSON.stringify(by[label])}`);
    assert.match(by[label].message, re, label);
  };
  const type = (label, re) => {
    assert.equal(by[label].error, 'TypeError', `${label}: ${JSON.stringify(by[label])}`);
    assert.match(by[label].message, re, label);
  };
  range('finLive limit NaN', /^limit must be an integer/);
  range('finLive tag NaN', /^tag must be an integer/);
  range('finLive olderThanMs Infinity', /^olderThanMs must be a finite non-negative number/);
  // No record is 2^53 ms (or 1e300 ms) old.
  assert.equal(by['finLive olderThanMs 2**53'].value, 0);
  assert.equal(by['finLive olderThanMs 1e300'].value, 0);
  assert.equal(by['finLive all'].value, 3);
  type('finLive withStacks 1', /^withStacks must be a boolean/);
  range('finStats scope NaN', /^scope must be an integer in \[-2, 4294967295\]/);
  range('finStats scope -3', /^scope must be an integer/);
  range('finInit threadId NaN', /^threadId must be an integer/);
  range('tagRegister flags 1.5', /^flags must be an integer/);
  range('tagRegister flags -1', /^flags must be an integer/);
  type('tagSetExternal 1', /^external must be a boolean/);
  type('finCaptureStacks "yes"', /^on must be a boolean/);
});
