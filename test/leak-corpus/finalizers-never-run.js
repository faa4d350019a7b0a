'use strict';
// LEAK (finalizers, tag corpus.sessions): native-backed objects stay reachable
// (a registry nobody prunes), so their finalizers never run.
const { run, print } = require('./harness.js');
const fx = require(process.env.NMW_FIN_FIXTURE);
const tag = fx.tag('corpus.sessions');
const registry = new Map();
let n = 0;
run({
  steps: 45,
  leakStart: 0,
  step() {
    for (let i = 0; i < 10; i++) registry.set(n++, fx.createExternal(tag));
  },
}).then((r) => print({ ...r, kept: registry.size }));
