'use strict';
// LEAK (heap): 60 s of healthy work, then a listener per request that is never
// removed (each closure keeps 1 KiB).
const { EventEmitter } = require('node:events');
const { run, print, stableHeap, churn, kib } = require('./harness.js');
const base = stableHeap(30);
const bus = new EventEmitter();
bus.setMaxListeners(0);
run({
  steps: 100,
  leakStart: 60,
  step(i) {
    churn(300);
    if (i > 60) {
      for (let k = 0; k < 200; k++) {
        const ctx = kib(i * 1000 + k);
        bus.on('done', () => ctx.length);
      }
    }
  },
}).then((r) => print({ ...r, kept: base.length + bus.listenerCount('done') }));
