'use strict';

// Shared bits of the JS tests: fresh tag names, the fixture's call-site lines,
// and small readers of mw.stats().

const fs = require('node:fs');
const path = require('node:path');

const WORK_C = path.resolve(__dirname, '../fixtures/consumer-addon/src/work.c');

let counter = 0;
/** A tag name no other test uses (the tracker is process-wide). */
function freshTag(prefix = 't') {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

let siteLines = null;
/** The line of work.c marked "site:NAME". */
function siteLine(name) {
  if (!siteLines) {
    siteLines = new Map();
    fs.readFileSync(WORK_C, 'utf8')
      .split('\n')
      .forEach((text, i) => {
        const m = /\/\* site:(\w+) \*\//.exec(text);
        if (m) siteLines.set(m[1], i + 1);
      });
  }
  const line = siteLines.get(name);
  if (!line) throw new Error(`no site:${name} marker in ${WORK_C}`);
  return line;
}

/** The C function that holds the "site:NAME" call. */
const SITE_FUNCTIONS = {
  alloc: 'work_alloc',
  calloc: 'work_calloc',
  realloc: 'work_realloc',
  strdup: 'work_strdup',
  aligned: 'work_aligned',
  free: 'work_free',
  allocMany: 'work_alloc_many',
  freeMany: 'work_free_many',
  leak: 'work_leak',
  poolAlloc: 'work_pool_alloc_many',
  poolFree: 'work_pool_free_many',
  churnAlloc: 'work_pool_churn',
  churnFree: 'work_pool_churn',
  track: 'work_track_malloc',
  untrack: 'work_untrack_free',
  doubleFreeAlloc: 'work_double_free',
  doubleFreeFirst: 'work_double_free',
  doubleFreeSecond: 'work_double_free',
  foreignFree: 'work_foreign_free',
  overrunAlloc: 'work_overrun',
  overrunFree: 'work_overrun',
  untrackUnknown: 'work_untrack_unknown',
  trackTwiceFirst: 'work_track_twice',
  trackTwiceSecond: 'work_track_twice',
  trackTwiceUntrack: 'work_track_twice',
  finalizableAlloc: 'work_finalizable_alloc',
  finalizableFree: 'work_finalizable_free',
  envChurnAlloc: 'work_pool_churn_env',
  envChurnFree: 'work_pool_churn_env',
  envChurnDrain: 'work_pool_churn_env',
  envAlloc: 'work_pool_alloc_env_many',
  extAdjust: 'work_external_adjust',
  extObjectAlloc: 'work_external_object_alloc',
  extObjectFree: 'work_external_object_free',
  extBufferAlloc: 'work_external_buffer',
  extBuffer: 'work_external_buffer',
  extBufferFree: 'work_external_buffer_finalize',
  teardownAlloc: 'work_teardown_alloc',
};

/** {file, line, function} of a fixture call site; file is matched by basename. */
function site(name) {
  return { file: 'work.c', line: siteLine(name), function: SITE_FUNCTIONS[name] };
}

/** True when a row's file/line/function is the fixture's site NAME. */
function isSite(row, name) {
  const want = site(name);
  return (
    typeof row.file === 'string' &&
    path.basename(row.file) === want.file &&
    row.line === want.line &&
    row.function === want.function
  );
}

/** A RegExp for the start of the stderr line of a misuse at a fixture site. */
function misuseLineRe(kind, name) {
  const want = site(name);
  return new RegExp(
    `^native-memwatch: ${kind} at (?:\\S*/)?${want.file.replace('.', '\\.')}:${want.line} in ${want.function}\\(\\): `,
    'm',
  );
}

const COUNTER_KEYS = [
  'currBytes',
  'currBlocks',
  'peakBytes',
  'peakBlocks',
  'allocs',
  'frees',
  'reallocs',
  'bytesAllocated',
  'bytesFreed',
  'limitDenied',
];

/** The counters of one tag, by name, with only the Counters keys. */
function tagCounters(mw, name) {
  const row = mw.stats().tags[name];
  if (!row) throw new Error(`tag ${name} is not in mw.stats().tags`);
  return pickCounters(row);
}

function pickCounters(row) {
  const out = {};
  for (const key of COUNTER_KEYS) out[key] = row[key];
  return out;
}

/** Counters with every key 0, overridden by `values`. */
function counters(values = {}) {
  const out = {};
  for (const key of COUNTER_KEYS) out[key] = 0;
  return Object.assign(out, values);
}

/** Named misuse counts (without sites), for deltas. */
const MISUSE_KINDS = [
  'doubleFree',
  'foreignFree',
  'overrun',
  'tagMismatch',
  'badTag',
  'untrackUnknown',
  'trackTwice',
];

/**
 * The first message of a worker, or a rejection that says how it ended when it
 * exits (or fails) first: a bare once(worker, 'message') waits for good on a
 * worker that exits without posting, and the test is only "cancelled".
 * Resolves to [message, exited] (exited: the promise of the 'exit' event).
 */
async function firstMessage(worker) {
  const { once } = require('node:events');
  const exited = once(worker, 'exit');
  const [msg] = await Promise.race([
    once(worker, 'message'),
    exited.then(([code]) => {
      throw new Error(`the worker exited with code ${code} before posting a message`);
    }),
  ]);
  return [msg, exited];
}

module.exports = {
  WORK_C,
  firstMessage,
  freshTag,
  siteLine,
  site,
  isSite,
  misuseLineRe,
  COUNTER_KEYS,
  MISUSE_KINDS,
  tagCounters,
  pickCounters,
  counters,
};
