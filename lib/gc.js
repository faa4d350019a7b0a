'use strict';

// gc() and settle(): force a full garbage collection, and wait until the
// finalizers it queued have run.

const v8 = require('v8');
const vm = require('vm');
const { setImmediate: nextImmediate } = require('timers/promises');
const binding = require('./binding.js');
const { validateOptions, validatePositiveInteger } = require('./validate.js');

let gcFunction = null;

// global.gc when node runs with --expose-gc; otherwise a gc function made in a
// fresh context with V8's expose-gc flag on. The flag is process-wide and stays
// on: turning it off again raced with workers doing the same (one could switch it
// off between another's "on" and its context creation). The cost of leaving it
// on: contexts and workers created later also have a global gc().
function getGc() {
  if (gcFunction !== null) return gcFunction;
  if (typeof globalThis.gc === 'function') {
    gcFunction = globalThis.gc;
    return gcFunction;
  }
  v8.setFlagsFromString('--expose-gc');
  gcFunction = vm.runInNewContext('gc');
  return gcFunction;
}

/** Runs a full (major) garbage collection, synchronously. */
function gc() {
  getGc()();
}

function totalsKey() {
  const t = binding.total();
  const at = (name) => t[binding.counterFields.indexOf(name)];
  // With this environment's finalizer counts: settle() also waits for them.
  return `${at('allocs')}/${at('frees')}/${at('currBytes')}/${at('currBlocks')}/${binding.finTotals().join('/')}`;
}

/**
 * Repeats { gc(); two setImmediate turns } until the total counters (allocs,
 * frees, current bytes and blocks) and this environment's finalizer counts
 * (registered, finalized, cancelled, live) stay the same over one round, at most
 * maxRounds times. Node-API finalizers queued by a GC run from a SetImmediate,
 * hence the turns. Resolves to the number of rounds run.
 */
async function settle(options) {
  const opts = validateOptions(options, 'options');
  const maxRounds =
    opts.maxRounds === undefined ? 10 : validatePositiveInteger(opts.maxRounds, 'options.maxRounds');
  let before = totalsKey();
  for (let round = 1; round <= maxRounds; round++) {
    gc();
    await nextImmediate();
    await nextImmediate();
    const after = totalsKey();
    if (after === before) return round;
    before = after;
  }
  return maxRounds;
}

module.exports = { gc, settle };
