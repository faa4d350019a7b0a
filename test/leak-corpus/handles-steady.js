'use strict';
// CLEAN (handles): 8 long-lived intervals, and timeouts set and cleared each second.
const { run, print } = require('./harness.js');
const fixed = [];
for (let i = 0; i < 8; i++) fixed.push(setInterval(() => {}, 3600 * 1000));
run({
  steps: 60,
  step() {
    const t = [];
    for (let k = 0; k < 50; k++) t.push(setTimeout(() => {}, 3600 * 1000));
    for (const x of t) clearTimeout(x);
  },
}).then((r) => {
  print({ ...r, kept: fixed.length });
  process.exit(0);
});
