'use strict';

// What the Prometheus collector and the OpenTelemetry gauges report, read once
// per scrape: one stats(), finalizers() and explain() call serves every metric
// of the same scrape (the cache is dropped on the next turn of the event loop).

const { stats } = require('./stats.js');
const { finalizers } = require('./finalizers.js');
const { explain } = require('./explain.js');

let cached = null;

function read() {
  if (cached) return cached;
  const s = stats();
  const tags = [];
  const fin = finalizers().tags;
  for (const [name, c] of Object.entries(s.tags)) {
    tags.push({ name, currBytes: c.currBytes, currBlocks: c.currBlocks, peakBytes: c.peakBytes, finalizersLive: fin[name] ? fin[name].live : 0 });
  }
  const e = explain();
  const parts = Object.entries(e.parts).map(([name, p]) => ({ name, bytes: p.bytes }));
  const env = s.external && s.external.environment;
  cached = { tags, parts, externalReported: env ? env.reported : 0 };
  setImmediate(() => {
    cached = null;
  }).unref();
  return cached;
}

module.exports = { read };
