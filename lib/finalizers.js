'use strict';

// Finalizer audit: every Node-API finalizer an addon registers through the C
// API's twins (nmw_wrap, nmw_add_finalizer, nmw_create_external, ...), and how
// it ended: finalized by GC, at environment teardown, cancelled, or never.
// Design and lifecycles: docs/finalizers.md. Reference: docs/api.md.

const fs = require('fs');
const { isMainThread, threadId } = require('worker_threads');
const binding = require('./binding.js');
const { defineOwn } = require('./rows.js');
const { withInspect } = require('./format.js');
const {
  validateOptions,
  validateBoolean,
  validatePositiveInteger,
  resolveTag,
  typeError,
  rangeError,
  describe,
} = require('./validate.js');

const SCOPE_CURRENT = -1;
const SCOPE_ALL = -2;
const HIST_LAST = binding.finHistBuckets - 1;

// The JS stack of the twin's caller, for mw.configure({finalizers: {captureStacks:
// true}}). The native twin calls it; frames from here up are left out.
function captureStack() {
  const holder = {};
  Error.captureStackTrace(holder, captureStack);
  const stack = holder.stack;
  const nl = stack.indexOf('\n');
  return nl < 0 ? '' : stack.slice(nl + 1);
}

// Each environment that loads native-memwatch gives its stack function and its
// worker_threads threadId (a label for environments() and the exit report).
binding.finInit(captureStack, threadId);

function checkKeys(opts, name, allowed) {
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw typeError(`${name}.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
    }
  }
}

// The counters of one tag (or a total) as the API shows them.
function shape(raw) {
  const histogram = [];
  raw.hist.forEach((count, b) => {
    if (count !== 0) histogram.push({ leNs: b === HIST_LAST ? Infinity : 2 ** b, count });
  });
  return {
    registered: raw.registered,
    finalized: raw.finalized,
    finalizedAtTeardown: raw.finalizedAtTeardown,
    cancelled: raw.cancelled,
    live: raw.live,
    neverRun: raw.neverRun,
    durations: { histogram, maxNs: raw.maxNs, totalNs: raw.totalNs },
    oldestLiveMs: raw.oldestLiveMs,
  };
}

function summary(scope) {
  const raw = binding.finStats(scope);
  const tags = {};
  for (const row of raw.rows) defineOwn(tags, row.name, shape(row));
  return { tags, total: shape(raw.total) };
}

// options.environment: 'current' (default), 'all', or an id from environments().
function resolveEnvironment(value, name) {
  if (value === undefined || value === 'current') return SCOPE_CURRENT;
  if (value === 'all') return SCOPE_ALL;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) {
      throw rangeError(`${name} must be an environment id (received ${value})`);
    }
    if (!binding.finEnvironments().some((e) => e.id === value)) {
      throw rangeError(`${name} ${value} is not a known environment`, 'ERR_NMW_UNKNOWN_ENVIRONMENT');
    }
    return value;
  }
  throw typeError(`${name} must be 'current', 'all' or an environment id (received ${describe(value)})`);
}

/**
 * Per-tag counters of the finalizers registered in this environment (or
 * options.environment: 'all', an id), with the total, and the table's own memory.
 */
function finalizers(options) {
  const opts = validateOptions(options, 'options');
  checkKeys(opts, 'options', ['environment']);
  const result = summary(resolveEnvironment(opts.environment, 'options.environment'));
  result.overhead = binding.finGlobal();
  return withInspect(result);
}

/**
 * Live records (registered, not run, not cancelled), oldest first:
 * [{id, environment, kind, tag, file, line, function, ageMs, stack?}].
 */
function live(options) {
  const opts = validateOptions(options, 'options');
  checkKeys(opts, 'options', ['tag', 'olderThanMs', 'limit', 'environment']);
  const tag = opts.tag === undefined ? -1 : resolveTag(binding, opts.tag, 'options.tag');
  let olderThanMs = 0;
  if (opts.olderThanMs !== undefined) {
    olderThanMs = opts.olderThanMs;
    if (typeof olderThanMs !== 'number') {
      throw typeError(`options.olderThanMs must be a non-negative number (received ${describe(olderThanMs)})`);
    }
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
      throw rangeError(`options.olderThanMs must be a non-negative number (received ${olderThanMs})`);
    }
  }
  const limit =
    opts.limit === undefined
      ? Infinity
      : validatePositiveInteger(opts.limit, 'options.limit', { allowInfinity: true });
  const scope = resolveEnvironment(opts.environment, 'options.environment');
  return withInspect(binding.finLive(scope, tag, olderThanMs, limit === Infinity ? -1 : limit, true), 'liveFinalizers');
}

/**
 * Every environment that registered finalizers, the torn-down ones included
 * while their slot is not reused: [{id, threadId, state, current, tags, total}].
 */
function environments() {
  const list = binding.finEnvironments().map((e) => {
    const { tags, total } = summary(e.id);
    return { id: e.id, threadId: e.threadId, state: e.state, current: e.current, tags, total };
  });
  return withInspect(list, 'finalizerEnvironments');
}

// ---- configuration (mw.configure({finalizers: {...}})) ----

function configOption(value, name) {
  const opts = validateOptions(value, name);
  checkKeys(opts, name, ['captureStacks']);
  if (opts.captureStacks === undefined) return () => {};
  const on = validateBoolean(opts.captureStacks, `${name}.captureStacks`);
  return () => binding.finCaptureStacks(on);
}

function config() {
  return { captureStacks: binding.finCaptureStacks() };
}

// ---- the exit report ----

const exitListeners = new Set();

/**
 * Calls listener(report) at process exit, on the main thread. Returns a
 * function that removes it.
 */
function onExit(listener) {
  if (typeof listener !== 'function') {
    throw typeError(`listener must be a function (received ${describe(listener)})`);
  }
  exitListeners.add(listener);
  return () => {
    exitListeners.delete(listener);
  };
}

// How the process is exiting, from the frames of the 'exit' emission: natural
// (the loop ran dry: Node still tears the environment down and runs the queued
// finalizers), process.exit() or a fatal exception (no teardown: nothing more runs).
function exitKind() {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 64;
  const stack = new Error().stack;
  Error.stackTraceLimit = limit;
  if (/\bat process\.exit \(/.test(stack)) return 'process.exit';
  if (/\bat process\._fatalException \(/.test(stack)) return 'uncaught-exception';
  return 'natural';
}

function onProcessExit(code) {
  const kind = exitKind();
  binding.finExit(kind, typeof code === 'number' ? code : null, kind !== 'natural');
  const text = binding.finExitReport('exit');
  const path = process.env.NATIVE_MEMWATCH_EXIT_REPORT;
  if (path) {
    try {
      // Rewritten at the very end by the addon (phase 'atexit'), when the process
      // gets that far.
      fs.writeFileSync(path, `${text}\n`);
    } catch (err) {
      fs.writeSync(2, `native-memwatch: cannot write the exit report to ${path}: ${err.message}\n`);
    }
  }
  if (exitListeners.size === 0) return;
  const report = withInspect(JSON.parse(text));
  for (const listener of exitListeners) {
    try {
      listener(report);
    } catch (err) {
      fs.writeSync(2, `native-memwatch: a finalizers.onExit listener threw: ${(err && err.stack) || err}\n`);
    }
  }
}

// In every environment: once 'exit' is emitted the loop never runs again, so the
// finalizers that still run (queued by a GC, or live) run at teardown.
process.on('exit', () => binding.finExiting());
if (isMainThread) process.on('exit', onProcessExit);

finalizers.live = live;
finalizers.environments = environments;
finalizers.onExit = onExit;

module.exports = { finalizers, configOption, config, totals: () => binding.finTotals() };
