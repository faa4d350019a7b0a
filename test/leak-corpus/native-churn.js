'use strict';
// CLEAN (native): a pool that fills over 5 s and stays, and blocks allocated
// and freed every second, and native-backed objects dropped to the GC.
const { run, print, KiB } = require('./harness.js');
const cx = require(process.env.NMW_CONSUMER_FIXTURE);
const pool = cx.tag('corpus.pool');
const busy = cx.tag('corpus.busy');
const held = [];
run({
  steps: 60,
  step(i) {
    if (i <= 5) for (let k = 0; k < 16; k++) held.push(cx.alloc(pool, 64 * KiB));
    const tmp = [];
    for (let k = 0; k < 100; k++) tmp.push(cx.alloc(busy, 16 * KiB));
    for (const h of tmp) cx.free(h);
    for (let k = 0; k < 50; k++) cx.finalizable(busy, 8 * KiB);
  },
}).then((r) => print({ ...r, kept: held.length }));
