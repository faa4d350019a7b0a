'use strict';
// CLEAN: 2 MiB of Buffers a second, each dropped after use (external memory
// churns; no natural full GC is needed).
const { run, print } = require('./harness.js');
let sum = 0;
run({
  steps: 60,
  step() {
    for (let i = 0; i < 2048; i++) {
      const b = Buffer.alloc(1024, i);
      sum += b[0];
    }
  },
}).then((r) => print({ ...r, kept: sum }));
