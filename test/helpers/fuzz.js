'use strict';

// Hostile values for the fuzz tests (test/js/fuzz-binding.test.js,
// test/js/fuzz-api.test.js), and a runner that calls functions in a child
// process, so a crash is caught and named by the last call it printed.

const { runNode } = require('./child.js');

// Source text (evaluated in the child) of [label, () => value] pairs. Built
// fresh for every call: a Proxy or a getter must not be shared across calls.
const NUMBERS_SOURCE = `[
  ['NaN', () => NaN], ['Infinity', () => Infinity], ['-Infinity', () => -Infinity],
  ['-1', () => -1], ['-0', () => -0], ['0.5', () => 0.5], ['2**31', () => 2 ** 31],
  ['2**32', () => 2 ** 32], ['2**53', () => 2 ** 53], ['2**53+2', () => 2 ** 53 + 2],
  ['2**64', () => 2 ** 64], ['1e308', () => 1e308], ['-(2**53)', () => -(2 ** 53)],
  ['Number.MIN_VALUE', () => Number.MIN_VALUE],
]`;

const OTHERS_SOURCE = `[
  ['undefined', () => undefined], ['null', () => null], ['true', () => true],
  ['""', () => ''], ['"1"', () => '1'], ['huge string', () => 'x'.repeat(1 << 20)],
  ['string with NUL', () => 'a\\u0000b'], ['lone surrogate', () => '\\uD800x'],
  ['Symbol', () => Symbol('s')], ['BigInt', () => 10n], ['-BigInt', () => -(2n ** 70n)],
  ['{}', () => ({})], ['[]', () => []], ['function', () => function f() {}],
  ['Object.create(null)', () => Object.create(null)], ['new Number(1)', () => new Number(1)],
  ['throwing valueOf', () => ({ valueOf() { throw new Error('valueOf trap'); }, toString() { throw new Error('toString trap'); } })],
  ['throwing getters', () => new Proxy({}, { get() { throw new Error('get trap'); } })],
  ['Proxy with throwing traps', () => new Proxy({}, Object.fromEntries(
    ['get', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'set', 'defineProperty', 'apply', 'construct']
      .map((t) => [t, () => { throw new Error(t + ' trap'); }])))],
  ['object with throwing getter', () => Object.defineProperty({}, 'tag', { enumerable: true, get() { throw new Error('getter'); } })],
]`;

// The child's prelude: hostile values, describe(), and check(fn, args) which calls
// and classifies the outcome. Before each call it writes the call's label to
// stdout synchronously, so a crash leaves the name of the call behind.
const PRELUDE = `
  const fs = require('node:fs');
  const NUMBERS = ${NUMBERS_SOURCE};
  const OTHERS = ${OTHERS_SOURCE};
  const HOSTILE = NUMBERS.concat(OTHERS);
  const say = (line) => fs.writeSync(1, line + '\\n');
  const outcomes = [];
  // Calls fn; returns {label, ok} or {label, error: name, code, message}.
  function call(label, fn) {
    say('CALL ' + label);
    try {
      const value = fn();
      return { label, ok: true, value };
    } catch (err) {
      const name = err && err.constructor ? err.constructor.name : typeof err;
      return { label, error: name, code: err && err.code, message: String(err && err.message) };
    }
  }
`;

/** Runs source (after PRELUDE) in a child; rejects, naming the last call, on a crash. */
async function runFuzzChild(source, options = {}) {
  const r = await runNode(PRELUDE + source, options);
  const calls = r.stdout.split('\n').filter((l) => l.startsWith('CALL '));
  const last = calls.length ? calls[calls.length - 1].slice(5) : '(before any call)';
  if (r.signal !== null || r.code !== 0) {
    throw new Error(
      `the fuzz child died (code ${r.code}, signal ${r.signal}) during ${last}\n--- stderr\n${r.stderr.slice(-4000)}`,
    );
  }
  const json = r.stdout.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)));
  return { results: json, calls: calls.length, stderr: r.stderr };
}

module.exports = { runFuzzChild, NUMBERS_SOURCE, OTHERS_SOURCE };
