'use strict';
// CLEAN: every 10 s a report job holds 30 MiB for one second, then drops it.
const { run, print, stableHeap, churn } = require('./harness.js');
const base = stableHeap(20);
let job = null;
run({
  steps: 70,
  step(i) {
    job = i % 10 === 0 ? stableHeap(30) : null;
    churn(300);
  },
}).then((r) => print({ ...r, kept: base.length + (job ? job.length : 0) }));
