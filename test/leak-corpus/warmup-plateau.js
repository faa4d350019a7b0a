'use strict';
// CLEAN: a cache warming up: many misses at first, fewer and fewer (the miss rate
// halves every 3 s), then all hits: the heap grows ~30 MiB and plateaus.
const { run, print, churn, kib } = require('./harness.js');
const cache = new Map();
run({
  steps: 70,
  step(i) {
    const misses = Math.floor(3000 * 0.5 ** (i / 3));
    for (let k = 0; k < misses; k++) cache.set(cache.size, kib(cache.size));
    churn(300);
  },
}).then((r) => print({ ...r, kept: cache.size }));
