'use strict';
// CLEAN: an LRU of 20,000 entries of 1 KiB: fills in 10 s, then evicts.
const { run, print, churn, kib } = require('./harness.js');
const lru = new Map();
let n = 0;
run({
  steps: 70,
  step() {
    for (let k = 0; k < 2000; k++) {
      lru.set(n, kib(n));
      n++;
      if (lru.size > 20000) lru.delete(n - 20001);
    }
    churn(300);
  },
}).then((r) => print({ ...r, kept: lru.size }));
