'use strict';
// CLEAN: a 100 MiB stable heap and heavy request garbage, nothing retained.
const { run, print, stableHeap, churn } = require('./harness.js');
const base = stableHeap(100);
run({ steps: 60, step: () => churn(2000) }).then((r) => print({ ...r, kept: base.length }));
