'use strict';

// require('native-memwatch/prometheus'): metrics for prom-client (an optional
// peer dependency: install it yourself). Values are computed on scrape, in the
// metrics' collect(). Guide: docs/metrics.md.

const mw = require('./lib/index.js');
const { read } = require('./lib/metrics-source.js');
const { validateOptions, typeError } = require('./lib/validate.js');

function loadPromClient() {
  try {
    return require('prom-client');
  } catch (err) {
    const e = new Error("native-memwatch/prometheus needs prom-client: npm install prom-client");
    e.code = 'ERR_NMW_MISSING_PEER';
    e.cause = err;
    throw e;
  }
}

/**
 * Registers the native-memwatch metrics on `options.registry` (default:
 * prom-client's global registry) and returns {metrics, unregister()}.
 * options.prefix (string, default '') goes before every name.
 */
function register(options) {
  const opts = validateOptions(options, 'options');
  for (const key of Object.keys(opts)) {
    if (key !== 'registry' && key !== 'prefix') throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
  }
  const client = loadPromClient();
  const registry = opts.registry === undefined ? client.register : opts.registry;
  if (!(registry instanceof client.Registry)) {
    throw typeError('options.registry must be a prom-client Registry');
  }
  const prefix = opts.prefix === undefined ? '' : opts.prefix;
  if (typeof prefix !== 'string' || !/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(prefix)) {
    throw typeError('options.prefix must be a string of [a-zA-Z0-9_:] not starting with a digit');
  }
  const gauge = (name, help, labelNames, fill) =>
    new client.Gauge({
      name: prefix + name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this, read());
      },
    });
  const metrics = {
    nativeBytes: gauge('nodejs_native_memory_bytes', 'Live native memory tracked by native-memwatch, in bytes, by tag.', ['tag'], (g, d) => {
      for (const t of d.tags) g.set({ tag: t.name }, t.currBytes);
    }),
    nativeBlocks: gauge('nodejs_native_memory_blocks', 'Live native blocks tracked by native-memwatch, by tag.', ['tag'], (g, d) => {
      for (const t of d.tags) g.set({ tag: t.name }, t.currBlocks);
    }),
    nativePeakBytes: gauge('nodejs_native_memory_peak_bytes', 'Highest live native memory since the last resetPeak(), in bytes, by tag.', ['tag'], (g, d) => {
      for (const t of d.tags) g.set({ tag: t.name }, t.peakBytes);
    }),
    finalizersLive: gauge('nodejs_native_finalizers_live', 'Node-API finalizers registered and not yet run, in this environment, by tag.', ['tag'], (g, d) => {
      for (const t of d.tags) g.set({ tag: t.name }, t.finalizersLive);
    }),
    externalReported: gauge('nodejs_external_reported_bytes', 'External memory native-memwatch reported to V8 for this environment, in bytes.', [], (g, d) => {
      g.set(d.externalReported);
    }),
    explained: gauge('nodejs_memory_explained_bytes', 'Resident set size split into parts (mw.explain()), in bytes; the parts sum to the RSS.', ['part'], (g, d) => {
      for (const p of d.parts) g.set({ part: p.name }, p.bytes);
    }),
    leaks: new client.Counter({
      name: `${prefix}nodejs_memory_leaks_total`,
      help: 'Leak events reported by native-memwatch, by kind and tag.',
      labelNames: ['kind', 'tag'],
      registers: [registry],
    }),
  };
  let off = null;
  if (typeof mw.on === 'function') {
    const onLeak = (info) => metrics.leaks.inc({ kind: String(info.kind ?? ''), tag: String(info.tag ?? '') });
    mw.on('leak', onLeak);
    off = () => (typeof mw.off === 'function' ? mw.off('leak', onLeak) : undefined);
  }
  return {
    metrics,
    unregister() {
      for (const m of Object.values(metrics)) registry.removeSingleMetric(m.name);
      if (off) off();
    },
  };
}

module.exports = { register };
