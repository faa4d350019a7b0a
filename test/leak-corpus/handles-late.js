'use strict';
// LEAK (handles, Timeout): 40 s of timeouts set and cleared, then retries that
// are set and never cleared (10 a second).
const { run, print } = require('./harness.js');
const pending = [];
run({
  steps: 80,
  leakStart: 40,
  step(i) {
    const t = [];
    for (let k = 0; k < 20; k++) t.push(setTimeout(() => {}, 3600 * 1000));
    for (const x of t) clearTimeout(x);
    if (i > 40) for (let k = 0; k < 10; k++) pending.push(setTimeout(() => {}, 3600 * 1000));
  },
}).then((r) => {
  print({ ...r, kept: pending.length });
  process.exit(0);
});
