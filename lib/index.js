'use strict';

// native-memwatch: the JS API. Reference: docs/api.md; types: index.d.ts.

const binding = require('./binding.js');
const { include, include_dir } = require('../include.js');
const { version } = require('../package.json');
const {
  validateOptions,
  validateTagName,
  validateBoolean,
  validateByteLimit,
  validatePositiveInteger,
  resolveTag,
  typeError,
  rangeError,
  describe,
} = require('./validate.js');
const { tags, stats, sites } = require('./stats.js');
const { Snapshot, snapshot } = require('./snapshot.js');
const { Region, region } = require('./region.js');
const { settle } = require('./gc.js');
const { flushExternal, setExternal } = require('./external.js');
const finalizerAudit = require('./finalizers.js');
const { format, table } = require('./format.js');
const { valgrindSuppressions } = require('./tools.js');
const { attach, attached } = require('./attach.js');
const { explain } = require('./explain.js');
const { HeapDiff } = require('./heapdiff.js');
const heapSnapshots = require('./heap-snapshot.js');
const { sampling, SamplingProfile } = require('./sampling.js');
const events = require('./events.js');

// memwatch's gc(): a full GC, synchronous; with 'gc'/'stats' listeners the loop
// stays alive until its event is delivered (lib/events.js).
const { gc } = events;

const TAG_EXTERNAL = 0x1;
const TAG_STRICT_PEAKS = 0x2;

/**
 * Registers the tag `name` (or finds it) and returns its id. options.external
 * marks a tag whose bytes are reported to V8; options.limit sets (number) or
 * removes (null) the tag's byte limit, and leaves it as it is when omitted.
 * options.strictPeaks (registration only) keeps the tag's peaks linearizable.
 */
function tag(name, options) {
  validateTagName(name, 'name');
  const opts = validateOptions(options, 'options');
  const external =
    opts.external === undefined ? undefined : validateBoolean(opts.external, 'options.external');
  const limit = opts.limit === undefined ? undefined : validateByteLimit(opts.limit, 'options.limit');
  const strictPeaks =
    opts.strictPeaks === undefined
      ? undefined
      : validateBoolean(opts.strictPeaks, 'options.strictPeaks');
  let id;
  try {
    // Without options.external and options.strictPeaks an existing tag is
    // returned as it is; an omitted one of the two keeps what the tag has.
    const existing = binding.tagLookup(name);
    if (existing >= 0 && external === undefined && strictPeaks === undefined) {
      id = existing;
    } else {
      const have = existing >= 0 ? binding.tagList().find((t) => t.id === existing) : undefined;
      const ext = external === undefined ? Boolean(have && have.external) : external;
      const strict = strictPeaks === undefined ? Boolean(have && have.strictPeaks) : strictPeaks;
      id = binding.tagRegister(name, (ext ? TAG_EXTERNAL : 0) | (strict ? TAG_STRICT_PEAKS : 0));
    }
  } catch (err) {
    if (err && err.code === 'ERR_NMW_NO_SPACE') {
      throw rangeError(
        `cannot register tag ${JSON.stringify(name)}: the tag table is full (${binding.tagMax} tags)`,
        'ERR_NMW_TOO_MANY_TAGS',
      );
    }
    throw err;
  }
  if (limit !== undefined) binding.tagSetLimit(id, limit);
  return id;
}

/** Sets the byte limit of a tag (name or id); null removes it. */
function setLimit(tagArg, bytes) {
  const id = resolveTag(binding, tagArg, 'tag');
  if (bytes === undefined) {
    throw typeError(`bytes must be a non-negative integer or null (received ${describe(bytes)})`);
  }
  binding.tagSetLimit(id, validateByteLimit(bytes, 'bytes'));
}

/** Resets the peaks of one tag (name or id), or of every tag and the total. */
function resetPeak(tagArg) {
  if (tagArg === undefined) {
    binding.resetPeak();
    return;
  }
  binding.resetPeak(resolveTag(binding, tagArg, 'tag'));
}

// Run-time options: each has a validator-and-setter in CONFIG_OPTIONS and a
// getter in currentConfig(). Later versions add options here (stack capture for
// finalizers, ...).
const CONFIG_OPTIONS = {
  // external.threshold: bytes of external-memory change one thread accumulates for
  // an environment before it is reported to V8 (process-wide; default 1 MiB).
  external(value, name) {
    const opts = validateOptions(value, name);
    for (const key of Object.keys(opts)) {
      if (key !== 'threshold') throw typeError(`${name}.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
    }
    if (opts.threshold === undefined) return () => {};
    const bytes = validatePositiveInteger(opts.threshold, `${name}.threshold`);
    return () => binding.externalThreshold(bytes);
  },
  // finalizers.captureStacks: record the JS stack of each finalizer registration.
  finalizers: finalizerAudit.configOption,
  // leak: the leak detector's options (docs/leak-detection.md).
  leak: events.configOption,
};

function currentConfig() {
  return {
    external: { threshold: binding.externalThreshold() },
    finalizers: finalizerAudit.config(),
    leak: events.config(),
  };
}

/**
 * Applies options and returns the whole configuration in force. Every option
 * is checked before any is applied.
 */
function configure(options) {
  const opts = validateOptions(options, 'options');
  const apply = [];
  for (const key of Object.keys(opts)) {
    if (!Object.prototype.hasOwnProperty.call(CONFIG_OPTIONS, key)) {
      throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
    }
    if (opts[key] !== undefined) apply.push(CONFIG_OPTIONS[key](opts[key], `options.${key}`));
  }
  for (const set of apply) set();
  return currentConfig();
}

module.exports = {
  version,
  abiVersion: binding.abiVersion,
  include,
  include_dir,
  tag,
  tags,
  setLimit,
  stats,
  sites,
  snapshot,
  resetPeak,
  region,
  gc,
  settle,
  configure,
  flushExternal,
  setExternal,
  finalizers: finalizerAudit.finalizers,
  attach,
  attached,
  explain,
  Snapshot,
  Region,
  format,
  table,
  valgrindSuppressions,
  HeapDiff,
  summarizeHeapSnapshot: heapSnapshots.summarizeHeapSnapshot,
  diffHeapSnapshots: heapSnapshots.diffHeapSnapshots,
  writeHeapSnapshot: heapSnapshots.writeHeapSnapshot,
  heapSnapshotOnSignal: heapSnapshots.heapSnapshotOnSignal,
  heapSnapshotNearLimit: heapSnapshots.heapSnapshotNearLimit,
  sampling,
  SamplingProfile,
};

// Events (issue 14): mw is an EventEmitter ('gc', 'stats', 'leak'); on, once,
// off, addListener, removeListener, removeAllListeners and listenerCount are
// also own exports (the rest of EventEmitter's methods come from the prototype).
Object.assign(module.exports, events.install(module.exports));

// `import mw from 'native-memwatch'` and TypeScript's default import see the
// module itself, in CommonJS too (non-enumerable, so keys stay the API).
Object.defineProperty(module.exports, 'default', { value: module.exports, enumerable: false });
