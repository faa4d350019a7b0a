'use strict';

// HeapDiff: memwatch's API and output (@airbnb/node-memwatch src/heapdiff.cc),
// on the streaming parser. The constructor takes a snapshot and keeps only its
// digest (16 bytes a reachable node: id, class, size); end() takes another,
// diffs by node id and frees everything. Guide: docs/heap-snapshots.md.

const binding = require('./binding.js');
const { takeGraph, diffResult, validateRetainers } = require('./heap-snapshot.js');
const { snapshot } = require('./snapshot.js');
const { validateOptions, validateBoolean, typeError, codedError, describe } = require('./validate.js');

// memwatch does not count (or walk through) objects named HeapDiff: ours.
const SKIP = 'HeapDiff';

function digestNow(keepAllNames) {
  const graph = takeGraph({ keepAllNames });
  try {
    return { graph, digest: binding.hsDigest(graph, SKIP) };
  } catch (err) {
    binding.hsFree(graph);
    throw err;
  }
}

class HeapDiff {
  #digest;
  #time;
  #native;
  #ended = false;

  /**
   * Takes the "before" snapshot. options.includeNative also diffs the native
   * tags (snapshot().compareTo) into the result's `native`.
   */
  constructor(options) {
    const opts = validateOptions(options, 'options');
    for (const key of Object.keys(opts)) {
      if (key !== 'includeNative') throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
    }
    const includeNative = opts.includeNative === undefined ? false : validateBoolean(opts.includeNative, 'options.includeNative');
    this.#native = includeNative ? snapshot() : null;
    this.#time = new Date();
    const { graph, digest } = digestNow(false);
    binding.hsFree(graph);
    this.#digest = digest;
  }

  /**
   * Takes the "after" snapshot and returns {before, after, change} as memwatch
   * does. options.retainers (true or {top = 5, samples = 3}) adds sampleIds to
   * each row with allocations and, for the `top` rows that grew most, one
   * shortest retainer path from a GC root per sample. A second end() throws.
   */
  end(options) {
    if (this === null || typeof this !== 'object' || !(#ended in this)) {
      throw typeError(`HeapDiff#end: this must be a HeapDiff (from new HeapDiff()) (received ${describe(this)})`, 'ERR_INVALID_THIS');
    }
    if (this.#ended) throw codedError('attempt to end() a HeapDiff that was already ended', 'ERR_NMW_HEAPDIFF_ENDED');
    const opts = validateOptions(options, 'options');
    for (const key of Object.keys(opts)) {
      if (key !== 'retainers') throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
    }
    const retainers = validateRetainers(opts.retainers, 'options.retainers');
    this.#ended = true;
    const before = this.#digest;
    this.#digest = null;
    let graph;
    let after;
    try {
      ({ graph, digest: after } = digestNow(retainers !== null));
      if (retainers === null) {
        binding.hsFree(graph);
        graph = undefined;
      }
      const result = diffResult(before, after, [this.#time, new Date()], retainers, graph, SKIP);
      if (this.#native !== null) {
        const now = snapshot();
        result.native = {
          size_bytes: now.rows.reduce((s, r) => s + r.currBytes, 0) - this.#native.rows.reduce((s, r) => s + r.currBytes, 0),
          details: now.compareTo(this.#native, { groupBy: 'tag' }).filter((r) => r.bytesDiff !== 0 || r.blocksDiff !== 0),
        };
        this.#native = null;
      }
      return result;
    } finally {
      binding.hsFree(before);
      if (after !== undefined) binding.hsFree(after);
      if (graph !== undefined) binding.hsFree(graph);
    }
  }
}

module.exports = { HeapDiff };
