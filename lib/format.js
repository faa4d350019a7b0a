'use strict';

// Human-readable text for what the API returns: mw.format(x) (a short summary:
// a headline, the top rows, hints), mw.table(x) (the rows as an aligned text
// table), and the util.inspect (console.log) output of stats(), snapshots,
// diffs, statistics, sites and the finalizer reports, which is format(x). The
// objects themselves are unchanged: JSON.stringify and field access see the raw
// data; util.inspect(x, { customInspect: false }) shows it too.
//
// Sizes: B, KiB (1024 B), MiB (1024 KiB), GiB, one decimal.

const util = require('util');
const { validateOptions, validatePositiveInteger, typeError } = require('./validate.js');

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const DEFAULT_LIMIT = 10;
const NOTHING_TRACKED =
  'nothing tracked yet: no addon has allocated through the native-memwatch C API in this process ' +
  '(addons opt in with include/native_memwatch.h, see docs/c-api.md)';

/** Bytes as B, KiB, MiB or GiB with one decimal (1536 -> '1.5 KiB'). */
function size(bytes) {
  const abs = Math.abs(bytes);
  if (abs < KiB) return `${bytes} B`;
  if (abs < MiB) return `${(bytes / KiB).toFixed(1)} KiB`;
  if (abs < GiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${(bytes / GiB).toFixed(1)} GiB`;
}

/** '+x', '-x' or '0' with format applied to the magnitude. */
function signed(n, format = String) {
  return n > 0 ? `+${format(n)}` : n < 0 ? `-${format(-n)}` : format(0);
}

function count(n) {
  return n.toLocaleString('en-US');
}

function siteName(row) {
  return row.file === null || row.file === undefined ? '(no call site)' : `${row.file}:${row.line} ${row.function}`;
}

function plural(n, word) {
  return `${count(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** Lines of an aligned table; align has one letter per column, 'l'eft or 'r'ight. */
function alignedLines(header, rows, align, indent = '  ') {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const cell = (value, i) =>
    align[i] === 'l' ? String(value).padEnd(widths[i]) : String(value).padStart(widths[i]);
  return all.map((r) => `${indent}${r.map(cell).join('  ').trimEnd()}`);
}

// ---- what a value is ----

function kindOf(x) {
  if (Array.isArray(x)) {
    if (x[KIND]) return x[KIND];
    const r = x[0];
    if (r === undefined) return 'empty';
    if (r === null || typeof r !== 'object') return 'unknown';
    if ('bytesDiff' in r) return 'file' in r ? 'siteDiff' : 'tagDiff';
    if ('totalBytes' in r && 'file' in r) return 'sites';
    if ('bytes' in r && 'blocks' in r) return 'file' in r ? 'siteStatistics' : 'tagStatistics';
    if ('ageMs' in r && 'kind' in r) return 'liveFinalizers';
    if ('threadId' in r && 'state' in r && 'total' in r) return 'finalizerEnvironments';
    return 'unknown';
  }
  if (x === null || typeof x !== 'object') return typeof x === 'number' ? 'bytes' : 'unknown';
  if (Array.isArray(x.rows) && typeof x.compareTo === 'function') return 'snapshot';
  if (x.total && x.tags && x.overhead && x.misuse) return 'stats';
  if (x.neverRun && typeof x.neverRun === 'object' && 'phase' in x) return 'exitReport';
  if (x.total && x.tags && 'registered' in x.total) return 'finalizers';
  if ('maxBytes' in x && 'currBytes' in x && 'totalBytes' in x) return 'regionDelta';
  return 'unknown';
}

// ---- tables: [header, rows, align] per kind ----

function tagRowsOfStats(stats) {
  return Object.entries(stats.tags)
    .filter(([, t]) => t.allocs > 0 || t.currBytes !== 0)
    .sort(([an, a], [bn, b]) => b.currBytes - a.currBytes || b.currBlocks - a.currBlocks || (an < bn ? -1 : 1));
}

function finalizerRow(name, t) {
  return [name, count(t.registered), count(t.finalized), count(t.finalizedAtTeardown), count(t.cancelled), count(t.live), count(t.neverRun)];
}
const FINALIZER_HEADER = ['tag', 'registered', 'finalized', 'at teardown', 'cancelled', 'live', 'never run'];

function tableSpec(x, kind) {
  switch (kind) {
    case 'stats':
      return [
        ['tag', 'current', 'blocks', 'peak', 'allocs'],
        tagRowsOfStats(x).map(([name, t]) => [
          name + (t.external ? ' (external)' : ''),
          size(t.currBytes),
          count(t.currBlocks),
          size(t.peakBytes),
          count(t.allocs),
        ]),
        'lrrrr',
      ];
    case 'snapshot':
      return tableSpec(x.statistics('tag'), 'tagStatistics');
    case 'tagStatistics':
      return [['tag', 'bytes', 'blocks'], x.map((r) => [r.tag, size(r.bytes), count(r.blocks)]), 'lrr'];
    case 'siteStatistics':
      return [
        ['call site', 'tag', 'bytes', 'blocks'],
        x.map((r) => [siteName(r), r.tag, size(r.bytes), count(r.blocks)]),
        'llrr',
      ];
    case 'tagDiff':
      return [
        ['tag', 'change', 'now', 'blocks'],
        x.map((d) => [d.tag, signed(d.bytesDiff, size), size(d.bytes), signed(d.blocksDiff, count)]),
        'lrrr',
      ];
    case 'siteDiff':
      return [
        ['call site', 'tag', 'change', 'now', 'blocks'],
        x.map((d) => [siteName(d), d.tag, signed(d.bytesDiff, size), size(d.bytes), signed(d.blocksDiff, count)]),
        'llrrr',
      ];
    case 'sites':
      return [
        ['call site', 'tag', 'current', 'blocks', 'total'],
        x.map((s) => [siteName(s), s.tag, size(s.currBytes), count(s.currBlocks), size(s.totalBytes)]),
        'llrrr',
      ];
    case 'finalizers':
      return [
        FINALIZER_HEADER,
        Object.entries(x.tags)
          .sort(([an, a], [bn, b]) => b.live - a.live || b.registered - a.registered || (an < bn ? -1 : 1))
          .map(([name, t]) => finalizerRow(name, t)),
        'lrrrrrr',
      ];
    case 'finalizerEnvironments':
      return [
        ['environment', 'thread', 'state', 'registered', 'live', 'never run'],
        x.map((e) => [
          String(e.id) + (e.current ? ' (current)' : ''),
          e.threadId === null ? '?' : String(e.threadId),
          e.state,
          count(e.total.registered),
          count(e.total.live),
          count(e.total.neverRun),
        ]),
        'lrlrrr',
      ];
    case 'liveFinalizers':
      return [
        ['kind', 'tag', 'call site', 'age'],
        x.map((r) => [r.kind, r.tag, siteName(r), `${r.ageMs.toFixed(0)} ms`]),
        'lllr',
      ];
    case 'exitReport':
      return [
        ['tag', 'kind', 'call site', 'never run'],
        x.neverRun.sites.map((s) => [s.tag, s.kind, siteName(s), count(s.count)]),
        'lllr',
      ];
    case 'regionDelta':
      return [
        ['', 'bytes', 'blocks'],
        [
          ['allocated', size(x.totalBytes), count(x.totalBlocks)],
          ['net now', signed(x.currBytes, size), signed(x.currBlocks, count)],
          ['net max', signed(x.maxBytes, size), signed(x.maxBlocks, count)],
        ],
        'lrr',
      ];
    default:
      return null;
  }
}

function limitOf(options) {
  const opts = validateOptions(options, 'options');
  for (const key of Object.keys(opts)) {
    if (key !== 'limit') throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
  }
  return opts.limit === undefined ? undefined : validatePositiveInteger(opts.limit, 'options.limit', { allowInfinity: true });
}

function unsupported(x) {
  return typeError(
    'x must be what native-memwatch returns: stats(), sites(), a Snapshot, statistics(), compareTo(), ' +
      `a region's delta(), finalizers(), finalizers.live(), finalizers.environments() or an exit report (received ${describeValue(x)})`,
  );
}

function describeValue(x) {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array of something else';
  return typeof x === 'object' ? 'an object of another shape' : `type ${typeof x}`;
}

/** The rows of x as an aligned text table (all rows, or options.limit). */
function table(x, options) {
  const limit = limitOf(options);
  const kind = kindOf(x);
  if (kind === 'empty') return '  (no rows)';
  if (kind === 'bytes') return size(x);
  const spec = tableSpec(x, kind);
  if (spec === null) throw unsupported(x);
  const [header, rows, align] = spec;
  if (rows.length === 0) return '  (no rows)';
  const shown = limit === undefined || limit >= rows.length ? rows : rows.slice(0, limit);
  const lines = alignedLines(header, shown, align);
  if (shown.length < rows.length) lines.push(`  ... ${plural(rows.length - shown.length, 'more row')}`);
  return lines.join('\n');
}

// ---- summaries ----

function headline(x, kind) {
  switch (kind) {
    case 'stats': {
      const t = x.total;
      const used = tagRowsOfStats(x).length;
      return (
        `native-memwatch stats: ${size(t.currBytes)} in ${plural(t.currBlocks, 'block')} ` +
        `(peak ${size(t.peakBytes)}; ${plural(t.allocs, 'alloc')}, ${plural(t.frees, 'free')}) ` +
        `under ${plural(used, 'tag')}; tracker overhead ${size(x.overhead.totalBytes)}`
      );
    }
    case 'snapshot': {
      const bytes = x.rows.reduce((a, r) => a + r.currBytes, 0);
      const blocks = x.rows.reduce((a, r) => a + r.currBlocks, 0);
      return `native-memwatch Snapshot (${new Date(x.time).toISOString()}): ${size(bytes)} in ${plural(blocks, 'block')}, ${plural(x.rows.length, 'call-site row')}`;
    }
    case 'tagDiff':
    case 'siteDiff': {
      const bytes = x.reduce((a, d) => a + d.bytesDiff, 0);
      const blocks = x.reduce((a, d) => a + d.blocksDiff, 0);
      const changed = x.filter((d) => d.bytesDiff !== 0 || d.blocksDiff !== 0).length;
      return `native-memwatch diff by ${kind === 'tagDiff' ? 'tag' : 'call site'}: ${signed(bytes, size)}, ${signed(blocks, count)} blocks; ${changed} of ${x.length} rows changed`;
    }
    case 'tagStatistics':
    case 'siteStatistics': {
      const bytes = x.reduce((a, r) => a + r.bytes, 0);
      return `native-memwatch statistics by ${kind === 'tagStatistics' ? 'tag' : 'call site'}: ${size(bytes)} in ${plural(x.length, 'row')}`;
    }
    case 'sites':
      return `native-memwatch call sites: ${plural(x.length, 'row')}, ${size(x.reduce((a, s) => a + s.currBytes, 0))} live`;
    case 'finalizers': {
      const t = x.total;
      return `native-memwatch finalizers: ${count(t.registered)} registered, ${count(t.finalized)} finalized, ${count(t.finalizedAtTeardown)} at teardown, ${count(t.cancelled)} cancelled, ${count(t.live)} live, ${count(t.neverRun)} never run`;
    }
    case 'liveFinalizers':
      return `native-memwatch live finalizers: ${x.length}`;
    case 'finalizerEnvironments':
      return `native-memwatch finalizer environments: ${x.length}`;
    case 'exitReport':
      return `native-memwatch exit report (${x.phase}, ${x.exit}, final: ${x.final}): ${plural(x.neverRun.count, 'finalizer')} never ran`;
    case 'regionDelta':
      return `native-memwatch region: net ${signed(x.currBytes, size)} (max ${signed(x.maxBytes, size)}), ${size(x.totalBytes)} allocated`;
    default:
      return null;
  }
}

function hints(x, kind) {
  const out = [];
  if (kind === 'stats') {
    if (x.total.allocs === 0) out.push(NOTHING_TRACKED);
    if (x.misuse.total > 0) {
      const kinds = Object.entries(x.misuse)
        .filter(([k, v]) => typeof v === 'number' && k !== 'total' && v > 0)
        .map(([k, v]) => `${k} ${v}`);
      out.push(`misuse: ${x.misuse.total} (${kinds.join(', ')})`);
    }
    const env = x.external && x.external.environment;
    if (env && (env.owed !== 0 || env.reported !== 0)) {
      out.push(`external memory of this environment: owed ${size(env.owed)}, reported to V8 ${size(env.reported)}`);
    }
    out.push('fields: ' + Object.keys(x).join(', '));
  } else if (kind === 'snapshot') {
    if (x.rows.length === 0) out.push(NOTHING_TRACKED);
  } else if (kind === 'finalizers') {
    if (x.total.registered === 0) {
      out.push('no finalizers audited: addons register them through nmw_wrap, nmw_add_finalizer, ... (docs/finalizers.md)');
    }
  }
  return out;
}

/** A short summary of x: a headline, the top rows (options.limit, default 10), hints. */
function format(x, options) {
  const limit = limitOf(options);
  const kind = kindOf(x);
  if (kind === 'bytes') return size(x);
  if (kind === 'empty') return 'native-memwatch: no rows';
  const head = headline(x, kind);
  if (head === null) throw unsupported(x);
  const lines = [head];
  const body = table(x, { limit: limit === undefined ? DEFAULT_LIMIT : limit });
  if (body !== '  (no rows)') lines.push(body);
  lines.push(...hints(x, kind).map((h) => `  ${h}`));
  return lines.join('\n');
}

// ---- util.inspect ----

const KIND = Symbol('native-memwatch.kind');

function inspectSummary(depth, options) {
  const kind = kindOf(this);
  // util.inspect passes (depth, options); anything else called by hand gets the summary.
  if (typeof depth === 'number' && depth < 0 && options !== null && typeof options === 'object' && typeof options.stylize === 'function') {
    return options.stylize(`[native-memwatch ${kind}]`, 'special');
  }
  return format(this);
}

/**
 * Gives obj (an object or array the API returns) the summary as its
 * util.inspect output; kind is recorded for empty arrays. Non-enumerable, so
 * JSON.stringify, Object.keys and deep equality are unaffected.
 */
function withInspect(obj, kind) {
  Object.defineProperty(obj, util.inspect.custom, { value: inspectSummary, configurable: true, writable: true });
  if (kind) Object.defineProperty(obj, KIND, { value: kind, configurable: true });
  return obj;
}

module.exports = { format, table, size, signed, siteName, alignedLines, withInspect, inspectSummary, NOTHING_TRACKED };
