'use strict';

// The sampling heap profiler (V8's, through an in-process inspector session):
// which JS functions allocated the memory that is still live. V8 samples an
// allocation about every intervalBytes (Poisson: each byte is sampled with
// probability 1/intervalBytes) and scales each sample back, so a site's bytes
// are an unbiased estimate with a relative standard error of about
// sqrt(intervalBytes / bytes). Guide: docs/heap-snapshots.md.

const { validateOptions, validatePositiveInteger, validateBoolean, typeError, rangeError, codedError, describe } = require('./validate.js');

const DEFAULT_INTERVAL = 512 * 1024;
// V8's inspector records at most 128 frames a sample and takes no depth
// (HeapProfiler.startSampling has no stackDepth parameter: measured on Node
// 20, 22 and 24); options.stackDepth is applied here, keeping the frames
// nearest the allocation, as V8's own stack_depth does.
const V8_MAX_DEPTH = 128;
let started = false;
let interval = DEFAULT_INTERVAL;
let depth = V8_MAX_DEPTH;

// The thread's shared inspector session (lib/heap-snapshot.js): never
// disconnected, so heap snapshot ids stay stable while sampling starts and stops.
function post(method, params) {
  return require('./heap-snapshot.js').inspectorPost(method, params);
}

function siteKey(frame) {
  return `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}\u0000${frame.columnNumber}`;
}

function frameOf(callFrame) {
  return {
    function: callFrame.functionName || '(anonymous)',
    file: callFrame.url || null,
    line: callFrame.lineNumber + 1, // the protocol's lines and columns are 0-based
    column: callFrame.columnNumber + 1,
  };
}

/** A sampling profile: live sampled bytes per allocation stack. */
const CONSTRUCT = Symbol('SamplingProfile');

class SamplingProfile {
  #stacks; // key -> {stack, bytes}

  /** Made by sampling.profile() and sampling.stop() only. */
  constructor(token, raw, intervalBytes, stackDepth = V8_MAX_DEPTH) {
    if (token !== CONSTRUCT) {
      throw typeError('SamplingProfile is not constructed directly: use sampling.profile() or sampling.stop()', 'ERR_ILLEGAL_CONSTRUCTOR');
    }
    /** Milliseconds since the epoch when the profile was read. */
    this.time = Date.now();
    /** The mean sampling interval in force, in bytes. */
    this.intervalBytes = intervalBytes;
    this.#stacks = new Map();
    // Each tree node is one stack (root to the allocating function), cut to
    // the stackDepth frames nearest the allocation; stacks equal after the
    // cut are merged.
    const walk = (node, frames, keys) => {
      const isRoot = node.callFrame.functionName === '(root)' && frames.length === 0;
      const f = isRoot ? frames : [...frames, frameOf(node.callFrame)];
      const k = isRoot ? keys : [...keys, siteKey(node.callFrame)];
      if (node.selfSize > 0 && !isRoot) {
        const key = k.slice(-stackDepth).join('\u0001');
        const prev = this.#stacks.get(key);
        if (prev) prev.bytes += node.selfSize;
        else this.#stacks.set(key, { stack: f.slice(-stackDepth).reverse(), bytes: node.selfSize });
      }
      for (const child of node.children || []) walk(child, f, k);
    };
    walk(raw.head, [], []);
    /** Estimated live bytes over all sampled stacks. */
    this.totalBytes = [...this.#stacks.values()].reduce((s, x) => s + x.bytes, 0);
    Object.freeze(this);
  }

  static #check(self, method) {
    if (self === null || typeof self !== 'object' || !(#stacks in self)) {
      throw typeError(`SamplingProfile#${method}: this must be a SamplingProfile (from sampling.profile()) (received ${describe(self)})`, 'ERR_INVALID_THIS');
    }
  }

  /** Stacks largest first: [{function, file, line, column, bytes, stack}]. */
  top(limit = 20) {
    SamplingProfile.#check(this, 'top');
    const n = validatePositiveInteger(limit, 'limit');
    return [...this.#stacks.values()]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, n)
      .map((s) => ({ ...s.stack[0], bytes: s.bytes, stack: s.stack }));
  }

  /**
   * Allocation sites ranked by growth of live sampled bytes since `older`:
   * [{function, file, line, column, bytes, bytesBefore, growth, stack}] (the
   * stack leaf first), growth descending; sites that shrank come last.
   */
  compareTo(older) {
    SamplingProfile.#check(this, 'compareTo');
    if (older === null || typeof older !== 'object' || !(#stacks in older)) {
      throw typeError('older must be a SamplingProfile (from sampling.profile())');
    }
    const rows = [];
    for (const [k, s] of this.#stacks) {
      const old = older.#stacks.get(k);
      const bytesBefore = old ? old.bytes : 0;
      rows.push({ ...s.stack[0], bytes: s.bytes, bytesBefore, growth: s.bytes - bytesBefore, stack: s.stack });
    }
    for (const [k, s] of older.#stacks) {
      if (!this.#stacks.has(k)) rows.push({ ...s.stack[0], bytes: 0, bytesBefore: s.bytes, growth: -s.bytes, stack: s.stack });
    }
    rows.sort((a, b) => b.growth - a.growth || b.bytes - a.bytes);
    return rows;
  }
}

/**
 * Starts V8's sampling heap profiler in this thread. options.intervalBytes:
 * the mean interval between samples (default 512 KiB); options.stackDepth:
 * frames kept a stack, nearest the allocation first (default 64; V8 records
 * at most 128); options.includeCollected: keep samples of objects the GC has
 * freed (default false: live memory only).
 */
function start(options) {
  const opts = validateOptions(options, 'options');
  for (const key of Object.keys(opts)) {
    if (!['intervalBytes', 'stackDepth', 'includeCollected'].includes(key)) {
      throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
    }
  }
  const intervalBytes = opts.intervalBytes === undefined ? DEFAULT_INTERVAL : validatePositiveInteger(opts.intervalBytes, 'options.intervalBytes');
  if (intervalBytes > 2 ** 31 - 1) throw rangeError('options.intervalBytes must be below 2^31');
  const stackDepth = opts.stackDepth === undefined ? 64 : validatePositiveInteger(opts.stackDepth, 'options.stackDepth');
  if (stackDepth > V8_MAX_DEPTH) throw rangeError(`options.stackDepth must be at most ${V8_MAX_DEPTH} (V8 records at most ${V8_MAX_DEPTH} frames)`);
  const collected = opts.includeCollected === undefined ? false : validateBoolean(opts.includeCollected, 'options.includeCollected');
  if (started) throw codedError('sampling is already started in this thread', 'ERR_NMW_SAMPLING_STARTED');
  if (!process.features.inspector) throw codedError('sampling needs a Node built with the inspector', 'ERR_NMW_UNSUPPORTED');
  post('HeapProfiler.startSampling', {
    samplingInterval: intervalBytes,
    includeObjectsCollectedByMajorGC: collected,
    includeObjectsCollectedByMinorGC: collected,
  });
  started = true;
  interval = intervalBytes;
  depth = stackDepth;
}

function requireStarted(what) {
  if (!started) throw codedError(`sampling.${what}(): sampling is not started (call sampling.start())`, 'ERR_NMW_SAMPLING_NOT_STARTED');
}

/** The live sampled allocations now, as a SamplingProfile. */
function profile() {
  requireStarted('profile');
  return new SamplingProfile(CONSTRUCT, post('HeapProfiler.getSamplingProfile').profile, interval, depth);
}

/** Stops sampling and returns the final profile. */
function stop() {
  requireStarted('stop');
  started = false;
  return new SamplingProfile(CONSTRUCT, post('HeapProfiler.stopSampling').profile, interval, depth);
}

function isStarted() {
  return started;
}

module.exports = { sampling: Object.freeze({ start, profile, stop, isStarted, SamplingProfile }), SamplingProfile };
