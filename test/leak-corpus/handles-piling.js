'use strict';
// LEAK (handles, Timeout): a poller started per request and never cleared.
const { run, print } = require('./harness.js');
const timers = [];
run({
  steps: 45,
  leakStart: 0,
  step() {
    for (let i = 0; i < 5; i++) timers.push(setInterval(() => {}, 3600 * 1000));
  },
}).then((r) => {
  print({ ...r, kept: timers.length });
  process.exit(0);
});
