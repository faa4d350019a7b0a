'use strict';

// native-memwatch/prometheus against a real prom-client Registry's text output,
// and native-memwatch/otel with @opentelemetry/sdk-metrics' in-memory reader.

const test = require('node:test');
const assert = require('node:assert/strict');

const mw = require('../../');
const { loadFixture } = require('../helpers/build.js');
const promClient = require('prom-client');
const { MeterProvider, MetricReader, DataPointType } = require('@opentelemetry/sdk-metrics');
const prometheus = require('native-memwatch/prometheus');
const otel = require('native-memwatch/otel');

const fx = loadFixture();
const tagId = fx.tag('metrics.blocks');
const handles = fx.allocMany(tagId, 1000, 7);

/** "name{labels} value" lines of one metric, by label string. */
function samples(text, name) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out[m[2] || ''] = Number(m[3]);
  }
  return out;
}

test('prometheus: the metrics in a registry, computed on scrape', async () => {
  const registry = new promClient.Registry();
  const { metrics, unregister } = prometheus.register({ registry });
  let text = await registry.metrics();
  assert.match(text, /^# HELP nodejs_native_memory_bytes Live native memory tracked by native-memwatch, in bytes, by tag\.$/m);
  assert.match(text, /^# TYPE nodejs_native_memory_bytes gauge$/m);
  assert.match(text, /^# TYPE nodejs_memory_leaks_total counter$/m);
  assert.equal(samples(text, 'nodejs_native_memory_bytes')['{tag="metrics.blocks"}'], 7000);
  assert.equal(samples(text, 'nodejs_native_memory_blocks')['{tag="metrics.blocks"}'], 7);
  assert.equal(samples(text, 'nodejs_native_memory_peak_bytes')['{tag="metrics.blocks"}'], 7000);
  assert.equal(samples(text, 'nodejs_native_finalizers_live')['{tag="metrics.blocks"}'], 0);
  assert.equal(samples(text, 'nodejs_external_reported_bytes')[''], mw.stats().external.environment.reported);
  const parts = samples(text, 'nodejs_memory_explained_bytes');
  assert.deepEqual(Object.keys(parts), mw.explain.parts.map((p) => `{part="${p}"}`));
  // On scrape: freeing shows in the next scrape without anything else to call.
  fx.freeMany(handles.splice(0, 3));
  await new Promise((r) => setImmediate(r));
  text = await registry.metrics();
  assert.equal(samples(text, 'nodejs_native_memory_bytes')['{tag="metrics.blocks"}'], 4000);
  assert.equal(samples(text, 'nodejs_native_memory_peak_bytes')['{tag="metrics.blocks"}'], 7000);
  assert.equal(metrics.leaks.name, 'nodejs_memory_leaks_total');
  unregister();
  assert.equal(await registry.metrics(), '\n');
});

test('prometheus: options are checked; a prefix goes before every name', async () => {
  assert.throws(() => prometheus.register({ registry: {} }), { name: 'TypeError', message: 'options.registry must be a prom-client Registry' });
  assert.throws(() => prometheus.register({ prefix: '9x' }), { name: 'TypeError', message: 'options.prefix must be a string of [a-zA-Z0-9_:] not starting with a digit' });
  assert.throws(() => prometheus.register({ nope: 1 }), { message: 'options.nope is not a supported option' });
  const registry = new promClient.Registry();
  prometheus.register({ registry, prefix: 'app_' });
  const text = await registry.metrics();
  assert.equal(samples(text, 'app_nodejs_native_memory_blocks')['{tag="metrics.blocks"}'], 4);
});

class TestReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

test('otel: observable gauges in By with the native_memwatch.tag attribute', async () => {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const { unregister } = otel.observe({ meter: provider.getMeter('test') });
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  const byName = Object.fromEntries(resourceMetrics.scopeMetrics[0].metrics.map((m) => [m.descriptor.name, m]));
  assert.deepEqual(Object.keys(byName).sort(), [
    'nodejs.external.reported', 'nodejs.memory.explained', 'nodejs.native.finalizers.live',
    'nodejs.native.memory', 'nodejs.native.memory.blocks', 'nodejs.native.memory.peak',
  ]);
  const mem = byName['nodejs.native.memory'];
  assert.equal(mem.descriptor.unit, 'By');
  assert.equal(mem.dataPointType, DataPointType.GAUGE);
  const point = mem.dataPoints.find((p) => p.attributes['native_memwatch.tag'] === 'metrics.blocks');
  assert.equal(point.value, 4000);
  assert.equal(byName['nodejs.native.memory.blocks'].dataPoints.find((p) => p.attributes['native_memwatch.tag'] === 'metrics.blocks').value, 4);
  assert.equal(byName['nodejs.native.memory.peak'].descriptor.unit, 'By');
  const parts = byName['nodejs.memory.explained'].dataPoints.map((p) => p.attributes['native_memwatch.part']);
  assert.deepEqual(parts, [...mw.explain.parts]);
  for (const p of byName['nodejs.memory.explained'].dataPoints) assert.equal(typeof p.value, 'number');
  unregister();
  assert.throws(() => otel.observe({ meter: {} }), { name: 'TypeError', message: 'options.meter must be an OpenTelemetry Meter' });
  await provider.shutdown();
});
