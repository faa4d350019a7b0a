'use strict';

// attach(): instrument addons we did not compile (docs/attach.md). The work is
// native (src/addon/attach.c): this file checks arguments and shapes results.

const path = require('path');
const binding = require('./binding.js');
const { validateOptions, typeError, rangeError, codedError, describe } = require('./validate.js');

const PATTERNS_MAX = 64;

function unsupported() {
  return codedError(
    `native-memwatch: attach() is not supported on ${binding.attachPlatform} ` +
      '(it needs Linux with glibc on x64 or arm64)',
    'ERR_NMW_ATTACH_UNSUPPORTED',
  );
}

// A list of addon names or paths: package ("better-sqlite3"), tag name
// ("better-sqlite3/better_sqlite3.node"), file name or absolute path.
function validatePatterns(value, name) {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) {
    throw typeError(`${name} must be an array of strings (received ${describe(value)})`);
  }
  if (value.length > PATTERNS_MAX) {
    throw rangeError(`${name} may hold at most ${PATTERNS_MAX} entries (received ${value.length})`);
  }
  return value.map((entry, i) => {
    if (typeof entry !== 'string' || entry.length === 0) {
      throw typeError(`${name}[${i}] must be a non-empty string (received ${describe(entry)})`);
    }
    if (entry.length > 4000) throw rangeError(`${name}[${i}] is longer than 4000 characters`);
    // A path is matched in its resolved form, as the native side sees it.
    return entry.includes(path.sep) && path.isAbsolute(entry) ? path.resolve(entry) : entry;
  });
}

function addonRows() {
  const list = binding.attachList();
  return list;
}

function shapeAddon(a) {
  return {
    name: a.name,
    package: a.package,
    file: a.file,
    path: a.path,
    tag: a.tag,
    currBytes: a.currBytes,
    currBlocks: a.currBlocks,
    peakBytes: a.peakBytes,
    peakBlocks: a.peakBlocks,
    allocs: a.allocs,
    frees: a.frees,
    reallocs: a.reallocs,
    bytesAllocated: a.bytesAllocated,
    bytesFreed: a.bytesFreed,
    foreignFrees: a.foreignFrees,
    finalizers: a.finalizers,
    external: a.external,
    relocations: a.relocations,
  };
}

/**
 * attach()                  every .node addon loaded from now on, in any thread
 * attach({addons, exclude}) the same, only the named ones / not the excluded ones
 * attach(path)              one addon that is already loaded (counted from now)
 * Returns the attached addons (as in stats().addons) and the skipped ones.
 */
function attach(arg) {
  if (!binding.attachSupported) throw unsupported();
  if (typeof arg === 'string') {
    if (arg.length === 0) throw typeError('path must be a non-empty string');
    const file = path.resolve(arg);
    binding.attachPath(file);
    return attached();
  }
  const opts = validateOptions(arg, 'options');
  for (const key of Object.keys(opts)) {
    if (key !== 'addons' && key !== 'exclude') {
      throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
    }
  }
  const includes = validatePatterns(opts.addons, 'options.addons');
  const excludes = validatePatterns(opts.exclude, 'options.exclude');
  binding.attachEnable(includes, excludes);
  return attached();
}

/** The attach state: {enabled, addons: {name: row}, skipped: [{path, reason}]}. */
function attached() {
  if (!binding.attachSupported) {
    return { enabled: false, supported: false, platform: binding.attachPlatform, addons: {}, skipped: [] };
  }
  const raw = addonRows();
  const addons = {};
  for (const a of raw.addons) addons[a.name] = shapeAddon(a);
  return {
    enabled: raw.enabled,
    supported: true,
    platform: binding.attachPlatform,
    addons,
    skipped: raw.skipped.map((s) => ({ path: s.path, reason: s.reason })),
    liveBlocks: raw.liveBlocks,
    registryBytes: raw.registryBytes,
    sites: raw.sites,
  };
}

// For stats(): the attached addons keyed by name ({} when none or unsupported).
function addonStats() {
  if (!binding.attachSupported) return {};
  return attached().addons;
}

// Call sites of attached addons get their function names here, only when rows
// are read.
function resolveSites() {
  if (binding.attachSupported) binding.attachResolveSites();
}

// NATIVE_MEMWATCH_ATTACH for `node -r native-memwatch/attach`: unset or "1"
// attaches to every addon, "0" to none, anything else is a comma-separated list
// of addons; NATIVE_MEMWATCH_ATTACH_EXCLUDE a comma-separated list to leave out.
function optionsFromEnv(env) {
  const value = env.NATIVE_MEMWATCH_ATTACH;
  if (value === '0' || value === 'false') return null;
  const list = (s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  const opts = {};
  if (value !== undefined && value !== '' && value !== '1' && value !== 'true') opts.addons = list(value);
  if (env.NATIVE_MEMWATCH_ATTACH_EXCLUDE) opts.exclude = list(env.NATIVE_MEMWATCH_ATTACH_EXCLUDE);
  return opts;
}

module.exports = { attach, attached, addonStats, resolveSites, optionsFromEnv };
