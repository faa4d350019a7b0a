'use strict';
// LEAK (external): Buffers kept in a list. The JS heap barely moves (a Buffer
// object is ~100 bytes), and V8 runs no full GC on its own.
const { run, print } = require('./harness.js');
const kept = [];
run({
  steps: 45,
  leakStart: 0,
  step() {
    for (let i = 0; i < 100; i++) kept.push(Buffer.alloc(1024, i));
  },
}).then((r) => print({ ...r, kept: kept.length }));
