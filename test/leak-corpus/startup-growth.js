'use strict';
// CLEAN: start-up loads 10 MiB a second for 5 s (modules, config, caches), then
// serves requests with a flat heap.
const { run, print, churn, kib } = require('./harness.js');
const loaded = [];
run({
  steps: 60,
  step(i) {
    if (i <= 5) for (let k = 0; k < 10240; k++) loaded.push(kib(k));
    churn(300);
  },
}).then((r) => print({ ...r, kept: loaded.length }));
