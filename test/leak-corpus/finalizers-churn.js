'use strict';
// CLEAN (finalizers): native-backed objects created per request and dropped; the
// GC runs their finalizers.
const { run, print } = require('./harness.js');
const fx = require(process.env.NMW_FIN_FIXTURE);
const tag = fx.tag('corpus.requests');
let n = 0;
run({
  steps: 60,
  step() {
    for (let i = 0; i < 200; i++) {
      const o = fx.createExternal(tag);
      if (o) n++;
    }
  },
}).then((r) => print({ ...r, kept: n }));
