'use strict';
// LEAK (heap): 1 KiB retained per iteration, 200 iterations per second, over a
// stable 100 MiB heap, with request-like garbage.
const { run, print, stableHeap, churn, kib } = require('./harness.js');
const base = stableHeap(100);
const leaked = [];
run({
  steps: 45,
  leakStart: 0,
  step() {
    for (let i = 0; i < 200; i++) leaked.push(kib(leaked.length));
    churn(300);
  },
}).then((r) => print({ ...r, kept: base.length + leaked.length }));
