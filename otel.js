'use strict';

// require('native-memwatch/otel'): observable gauges for OpenTelemetry (the
// @opentelemetry/api package is an optional peer dependency). One batch
// callback reads everything once per collection. Guide: docs/metrics.md.

const { version } = require('./package.json');
const { read } = require('./lib/metrics-source.js');
const { validateOptions, typeError } = require('./lib/validate.js');

const TAG = 'native_memwatch.tag';
const PART = 'native_memwatch.part';

/**
 * Creates the gauges on options.meter (default: the global MeterProvider's
 * meter 'native-memwatch') and returns {instruments, unregister()}.
 */
function observe(options) {
  const opts = validateOptions(options, 'options');
  for (const key of Object.keys(opts)) {
    if (key !== 'meter') throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
  }
  let meter = opts.meter;
  if (meter === undefined) {
    let api;
    try {
      api = require('@opentelemetry/api');
    } catch (err) {
      const e = new Error('native-memwatch/otel needs @opentelemetry/api: npm install @opentelemetry/api');
      e.code = 'ERR_NMW_MISSING_PEER';
      e.cause = err;
      throw e;
    }
    meter = api.metrics.getMeter('native-memwatch', version);
  } else if (!meter || typeof meter.createObservableGauge !== 'function' || typeof meter.addBatchObservableCallback !== 'function') {
    throw typeError('options.meter must be an OpenTelemetry Meter');
  }
  const instruments = {
    nativeMemory: meter.createObservableGauge('nodejs.native.memory', { description: 'Live native memory tracked by native-memwatch, by tag.', unit: 'By' }),
    nativeBlocks: meter.createObservableGauge('nodejs.native.memory.blocks', { description: 'Live native blocks tracked by native-memwatch, by tag.', unit: '{block}' }),
    nativePeak: meter.createObservableGauge('nodejs.native.memory.peak', { description: 'Highest live native memory since the last resetPeak(), by tag.', unit: 'By' }),
    finalizersLive: meter.createObservableGauge('nodejs.native.finalizers.live', { description: 'Node-API finalizers registered and not yet run, by tag.', unit: '{finalizer}' }),
    externalReported: meter.createObservableGauge('nodejs.external.reported', { description: 'External memory native-memwatch reported to V8 for this environment.', unit: 'By' }),
    explained: meter.createObservableGauge('nodejs.memory.explained', { description: 'Resident set size split into parts (mw.explain()); the parts sum to the RSS.', unit: 'By' }),
  };
  const callback = (result) => {
    const d = read();
    for (const t of d.tags) {
      const attrs = { [TAG]: t.name };
      result.observe(instruments.nativeMemory, t.currBytes, attrs);
      result.observe(instruments.nativeBlocks, t.currBlocks, attrs);
      result.observe(instruments.nativePeak, t.peakBytes, attrs);
      result.observe(instruments.finalizersLive, t.finalizersLive, attrs);
    }
    result.observe(instruments.externalReported, d.externalReported);
    for (const p of d.parts) result.observe(instruments.explained, p.bytes, { [PART]: p.name });
  };
  const list = Object.values(instruments);
  meter.addBatchObservableCallback(callback, list);
  return {
    instruments,
    unregister() {
      meter.removeBatchObservableCallback(callback, list);
    },
  };
}

module.exports = { observe, TAG_ATTRIBUTE: TAG, PART_ATTRIBUTE: PART };
