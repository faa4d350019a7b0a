'use strict';
// LEAK (heap): a session map that never expires: 100 sessions of 1 KiB a second
// (100 KiB/s) over a 50 MiB heap, with request garbage.
const { run, print, stableHeap, churn, kib } = require('./harness.js');
const base = stableHeap(50);
const sessions = new Map();
let id = 0;
run({
  steps: 45,
  leakStart: 0,
  step() {
    for (let i = 0; i < 100; i++) sessions.set(`s${id++}`, { user: id, data: kib(id) });
    churn(500);
  },
}).then((r) => print({ ...r, kept: base.length + sessions.size }));
