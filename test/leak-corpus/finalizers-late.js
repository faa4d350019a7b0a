'use strict';
// LEAK (finalizers, tag corpus.wraps): wrapped objects dropped for 30 s, then kept
// in a list by mistake (8 a second).
const { run, print } = require('./harness.js');
const fx = require(process.env.NMW_FIN_FIXTURE);
const tag = fx.tag('corpus.wraps');
const kept = [];
run({
  steps: 75,
  leakStart: 30,
  step(i) {
    for (let k = 0; k < 50; k++) {
      const o = {};
      fx.wrap(o, tag, false);
      if (i > 30 && k < 8) kept.push(o);
    }
  },
}).then((r) => print({ ...r, kept: kept.length }));
