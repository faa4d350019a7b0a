'use strict';

// Snapshots: the current bytes and blocks of every (site, tag) row at one
// moment, compared like Python's tracemalloc.Snapshot.compare_to.

const binding = require('./binding.js');
const { siteRows, compareStrings, compareSites } = require('./rows.js');
const { validateOptions, validateOneOf, typeError, describe } = require('./validate.js');
const util = require('util');
const { withInspect, inspectSummary } = require('./format.js');

const INTERNAL = Symbol('native-memwatch.internal');
const GROUP_BY = ['tag', 'site'];

// Groups snapshot rows: Map key -> {key fields..., bytes, blocks}.
function group(rows, groupBy) {
  const out = new Map();
  for (const r of rows) {
    const key = groupBy === 'tag' ? r.tag : r.key;
    let g = out.get(key);
    if (g === undefined) {
      g =
        groupBy === 'tag'
          ? { tag: r.tag, bytes: 0, blocks: 0 }
          : { file: r.file, line: r.line, function: r.function, tag: r.tag, bytes: 0, blocks: 0 };
      out.set(key, g);
    }
    g.bytes += r.currBytes;
    g.blocks += r.currBlocks;
  }
  return out;
}

function compareKeys(groupBy) {
  return groupBy === 'tag' ? (a, b) => compareStrings(a.tag, b.tag) : compareSites;
}

class Snapshot {
  constructor(token) {
    if (token !== INTERNAL) {
      throw typeError('Snapshot cannot be constructed directly: use snapshot()', 'ERR_ILLEGAL_CONSTRUCTOR');
    }
    const rows = siteRows(binding).map((r) =>
      Object.freeze({
        file: r.file,
        line: r.line,
        function: r.function,
        tag: r.tag,
        currBytes: r.currBytes,
        currBlocks: r.currBlocks,
      }),
    );
    /** Milliseconds since the epoch (Date.now()) when the snapshot was taken. */
    this.time = Date.now();
    /** Every (site, tag) row, frozen. */
    this.rows = Object.freeze(rows);
    Object.freeze(this);
  }

  // Methods called on anything but a Snapshot throw a TypeError naming `this`.
  static #check(self) {
    if (self === null || typeof self !== 'object' || !(#keyed in self)) {
      throw typeError(`this must be a Snapshot (from snapshot()) (received ${describe(self)})`, 'ERR_INVALID_THIS');
    }
  }

  // Rows with their grouping key (not exposed on the frozen rows).
  #keyed() {
    return this.rows.map((r) => ({
      ...r,
      key: `${r.file === null ? '\u0000' : `f${r.file}`}\u0001${r.line}\u0001${
        r.function === null ? '\u0000' : `f${r.function}`
      }\u0001${r.tag}`,
    }));
  }

  /**
   * The current rows grouped by 'tag' or 'site', largest bytes first.
   */
  statistics(groupBy = 'tag') {
    Snapshot.#check(this);
    validateOneOf(groupBy, 'groupBy', GROUP_BY);
    const rows = [...group(this.#keyed(), groupBy).values()];
    const byKey = compareKeys(groupBy);
    rows.sort((a, b) => b.bytes - a.bytes || b.blocks - a.blocks || byKey(a, b));
    return withInspect(rows, groupBy === 'tag' ? 'tagStatistics' : 'siteStatistics');
  }

  /**
   * What changed since `older`: one row per key present in either snapshot,
   * sorted like tracemalloc's compare_to: descending by (|bytesDiff|, bytes,
   * |blocksDiff|, blocks), then ascending by key.
   */
  compareTo(older, options) {
    Snapshot.#check(this);
    if (older === null || typeof older !== 'object' || !(#keyed in older)) {
      throw typeError('older must be a Snapshot (from snapshot())');
    }
    const opts = validateOptions(options, 'options');
    const groupBy =
      opts.groupBy === undefined ? 'tag' : validateOneOf(opts.groupBy, 'options.groupBy', GROUP_BY);
    const now = group(this.#keyed(), groupBy);
    const before = group(older.#keyed(), groupBy);
    const rows = [];
    const diff = (key, cur, old) => {
      const base = cur || old;
      const bytes = cur ? cur.bytes : 0;
      const blocks = cur ? cur.blocks : 0;
      const oldBytes = old ? old.bytes : 0;
      const oldBlocks = old ? old.blocks : 0;
      const head =
        groupBy === 'tag'
          ? { tag: base.tag }
          : { file: base.file, line: base.line, function: base.function, tag: base.tag };
      rows.push({
        ...head,
        bytes,
        bytesDiff: bytes - oldBytes,
        blocks,
        blocksDiff: blocks - oldBlocks,
      });
    };
    for (const [key, cur] of now) diff(key, cur, before.get(key));
    for (const [key, old] of before) if (!now.has(key)) diff(key, undefined, old);
    const byKey = compareKeys(groupBy);
    rows.sort(
      (a, b) =>
        Math.abs(b.bytesDiff) - Math.abs(a.bytesDiff) ||
        b.bytes - a.bytes ||
        Math.abs(b.blocksDiff) - Math.abs(a.blocksDiff) ||
        b.blocks - a.blocks ||
        byKey(a, b),
    );
    return withInspect(rows, groupBy === 'tag' ? 'tagDiff' : 'siteDiff');
  }

  /** console.log / util.inspect: a summary by tag (lib/format.js). */
  [util.inspect.custom](depth, options) {
    return inspectSummary.call(this, depth, options);
  }
}

function snapshot() {
  return new Snapshot(INTERNAL);
}

module.exports = { Snapshot, snapshot };
