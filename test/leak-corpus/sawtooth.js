'use strict';
// CLEAN: a batch buffer that grows by 2 MiB a second and is flushed every 6 s.
const { run, print, stableHeap, churn, kib } = require('./harness.js');
const base = stableHeap(20);
let batch = [];
run({
  steps: 70,
  step(i) {
    for (let k = 0; k < 2048; k++) batch.push(kib(k));
    if (i % 6 === 0) batch = [];
    churn(300);
  },
}).then((r) => print({ ...r, kept: base.length + batch.length }));
