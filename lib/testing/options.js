'use strict';

// Argument checks of the testing toolkit. Every error names the argument as the
// caller wrote it (fn, limit, options.iterations, ...).

const {
  validateOptions,
  validateTagName,
  validatePositiveInteger,
  typeError,
  rangeError,
  describe,
} = require('../validate.js');
const { parseSize } = require('./size.js');

function validateFunction(value, name) {
  if (typeof value !== 'function') {
    throw typeError(`${name} must be a function (received ${describe(value)})`);
  }
  return value;
}

function checkKeys(opts, name, allowed) {
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw typeError(`${name}.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
    }
  }
}

function validateNonNegativeInteger(value, name) {
  if (typeof value !== 'number') {
    throw typeError(`${name} must be a non-negative integer (received ${describe(value)})`);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw rangeError(`${name} must be a non-negative integer (received ${value})`);
  }
  return value;
}

/** An array of tag names -> Set, or null when undefined. */
function tagSet(value, name) {
  if (value === undefined) return null;
  if (!Array.isArray(value)) {
    throw typeError(`${name} must be an array of tag names (received ${describe(value)})`);
  }
  value.forEach((tag, i) => validateTagName(tag, `${name}[${i}]`));
  return new Set(value);
}

function stringSet(value, name) {
  if (!Array.isArray(value)) {
    throw typeError(`${name} must be an array of strings (received ${describe(value)})`);
  }
  value.forEach((item, i) => {
    if (typeof item !== 'string') throw typeError(`${name}[${i}] must be a string (received ${describe(item)})`);
  });
  return new Set(value);
}

/** options.signals: a non-empty array of the given choices, no repeats. */
function signalSet(value, name, choices, defaults) {
  if (value === undefined) return new Set(defaults);
  const list = choices.map((c) => `'${c}'`).join(', ');
  if (!Array.isArray(value)) {
    throw typeError(`${name} must be an array of ${list} (received ${describe(value)})`);
  }
  if (value.length === 0) throw rangeError(`${name} must name at least one signal (received [])`);
  value.forEach((s, i) => {
    if (typeof s !== 'string') throw typeError(`${name}[${i}] must be one of ${list} (received ${describe(s)})`);
    if (!choices.includes(s)) {
      throw rangeError(`${name}[${i}] must be one of ${list} (received ${JSON.stringify(s)})`, 'ERR_INVALID_ARG_VALUE');
    }
  });
  return new Set(value);
}

const LEAK_SIGNALS = ['native', 'finalizers', 'heap'];
const LEAK_KEYS = ['iterations', 'rounds', 'warmup', 'signals', 'tags', 'exclude', 'tolerance', 'heapTolerance', 'topSites'];

/** assertNoLeak / toLeak options with their defaults. */
function leakOptions(options, name = 'options') {
  const opts = validateOptions(options, name);
  checkKeys(opts, name, LEAK_KEYS);
  const iterations = opts.iterations === undefined ? 100 : validatePositiveInteger(opts.iterations, `${name}.iterations`);
  const rounds = opts.rounds === undefined ? 3 : validatePositiveInteger(opts.rounds, `${name}.rounds`);
  const warmup = opts.warmup === undefined ? iterations : validateNonNegativeInteger(opts.warmup, `${name}.warmup`);
  const tolerance = parseSize(opts.tolerance === undefined ? 0 : opts.tolerance, `${name}.tolerance`);
  const heapTolerance = parseSize(opts.heapTolerance === undefined ? 128 : opts.heapTolerance, `${name}.heapTolerance`);
  return {
    iterations,
    rounds,
    warmup,
    signals: signalSet(opts.signals, `${name}.signals`, LEAK_SIGNALS, ['native', 'finalizers']),
    tags: tagSet(opts.tags, `${name}.tags`),
    exclude: tagSet(opts.exclude, `${name}.exclude`),
    tolerance,
    heapTolerance,
    topSites: opts.topSites === undefined ? 5 : validatePositiveInteger(opts.topSites, `${name}.topSites`),
  };
}

const EACH_SIGNALS = ['native', 'finalizers', 'handles'];
const EACH_KEYS = ['signals', 'tags', 'exclude', 'tolerance', 'ignoreHandles', 'topSites'];

/** checkEachTest options with their defaults. */
function eachTestOptions(options, name = 'options') {
  const opts = validateOptions(options, name);
  checkKeys(opts, name, EACH_KEYS);
  return {
    signals: signalSet(opts.signals, `${name}.signals`, EACH_SIGNALS, EACH_SIGNALS),
    tags: tagSet(opts.tags, `${name}.tags`),
    exclude: tagSet(opts.exclude, `${name}.exclude`),
    tolerance: parseSize(opts.tolerance === undefined ? 0 : opts.tolerance, `${name}.tolerance`),
    ignoreHandles: opts.ignoreHandles === undefined ? new Set(['Timeout', 'Immediate']) : stringSet(opts.ignoreHandles, `${name}.ignoreHandles`),
    topSites: opts.topSites === undefined ? 5 : validatePositiveInteger(opts.topSites, `${name}.topSites`),
  };
}

/** {tag} of limitMemory / toAllocateAtMost; {tag, perSite} of limitLeaks. */
function limitOptions(options, name, { perSite = false } = {}) {
  const opts = validateOptions(options, name);
  checkKeys(opts, name, perSite ? ['tag', 'perSite', 'topSites'] : ['tag', 'topSites']);
  let tag = null;
  if (opts.tag !== undefined) tag = validateTagName(opts.tag, `${name}.tag`);
  let each = false;
  if (perSite && opts.perSite !== undefined) {
    if (typeof opts.perSite !== 'boolean') {
      throw typeError(`${name}.perSite must be a boolean (received ${describe(opts.perSite)})`);
    }
    each = opts.perSite;
  }
  const topSites = opts.topSites === undefined ? 10 : validatePositiveInteger(opts.topSites, `${name}.topSites`);
  return { tag, perSite: each, topSites };
}

module.exports = {
  validateFunction,
  validatePositiveInteger,
  leakOptions,
  eachTestOptions,
  limitOptions,
  tagSet,
};
