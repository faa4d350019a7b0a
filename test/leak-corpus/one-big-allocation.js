'use strict';
// CLEAN: one 50 MiB table loaded at 30 s and kept for good.
const { run, print, stableHeap, churn } = require('./harness.js');
const base = stableHeap(20);
let table = null;
run({
  steps: 70,
  step(i) {
    if (i === 30) table = stableHeap(50);
    churn(300);
  },
}).then((r) => print({ ...r, kept: base.length + (table ? table.length : 0) }));
