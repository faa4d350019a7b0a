'use strict';
// LEAK (native, tag corpus.late): 30 s of balanced allocations, then an error
// path that forgets to free 96 KiB a second.
const { run, print, KiB } = require('./harness.js');
const cx = require(process.env.NMW_CONSUMER_FIXTURE);
const tag = cx.tag('corpus.late');
const lost = [];
run({
  steps: 75,
  leakStart: 30,
  step(i) {
    const tmp = [];
    for (let k = 0; k < 20; k++) tmp.push(cx.alloc(tag, 16 * KiB));
    const forget = i > 30 ? 6 : 0;
    for (let k = 0; k < tmp.length; k++) {
      if (k < forget) lost.push(tmp[k]);
      else cx.free(tmp[k]);
    }
  },
}).then((r) => print({ ...r, kept: lost.length }));
