'use strict';
// LEAK (native, tag corpus.leaky): an addon keeps 128 KiB a second under one tag;
// another tag allocates and frees as much (churn), a third holds a fixed pool.
const { run, print, KiB } = require('./harness.js');
const cx = require(process.env.NMW_CONSUMER_FIXTURE);
const leaky = cx.tag('corpus.leaky');
const busy = cx.tag('corpus.busy');
const pool = cx.tag('corpus.pool');
const poolBlocks = [];
for (let i = 0; i < 64; i++) poolBlocks.push(cx.alloc(pool, 64 * KiB));
const lost = [];
run({
  steps: 45,
  leakStart: 0,
  step() {
    for (let i = 0; i < 4; i++) lost.push(cx.alloc(leaky, 32 * KiB));
    const tmp = [];
    for (let i = 0; i < 50; i++) tmp.push(cx.alloc(busy, 8 * KiB));
    for (const h of tmp) cx.free(h);
  },
}).then((r) => print({ ...r, kept: lost.length + poolBlocks.length }));
