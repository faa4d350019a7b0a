'use strict';

// gc() and settle() in a process started without --expose-gc: a full GC runs,
// and settle() waits until the Node-API finalizers it queued have freed their
// native blocks.

const test = require('node:test');
const assert = require('node:assert/strict');

const { buildFixture } = require('../helpers/build.js');
const { runNodeJson } = require('../helpers/child.js');

buildFixture();

test('gc() and settle() without --expose-gc free blocks owned by collected objects', async () => {
  const { value } = await runNodeJson(`
    const mw = require(process.env.NMW_ROOT);
    const fx = require(process.env.NMW_FIXTURE);
    const counts = (name) => {
      const t = mw.stats().tags[name];
      return { currBytes: t.currBytes, currBlocks: t.currBlocks, frees: t.frees };
    };
    (async () => {
      const id = mw.tag('owned');
      let kept = [];
      (() => { for (let i = 0; i < 100; i++) kept.push(fx.finalizable(id, 10)); })();
      let weak;
      (() => { weak = new WeakRef({ big: new Array(1000).fill(1) }); })();
      await new Promise((resolve) => setImmediate(resolve));
      const before = counts('owned');
      kept = null;
      const gcResult = mw.gc();
      const collected = weak.deref() === undefined;
      const rounds = await mw.settle();
      console.log(JSON.stringify({
        execArgv: process.execArgv,
        globalGc: typeof globalThis.gc,
        gcResult: gcResult === undefined ? 'undefined' : typeof gcResult,
        collected,
        roundsType: typeof rounds,
        before,
        after: counts('owned'),
      }));
    })();
  `);
  assert.equal(value.execArgv.some((arg) => /expose[-_]gc/.test(arg)), false);
  assert.equal(value.globalGc, 'undefined', 'gc is not left on the global object');
  assert.equal(value.gcResult, 'undefined');
  assert.equal(value.collected, true, 'gc() ran a full collection');
  assert.deepEqual(value.before, { currBytes: 1000, currBlocks: 100, frees: 0 });
  assert.deepEqual(value.after, { currBytes: 0, currBlocks: 0, frees: 100 });
});

test('settle() resolves when nothing is pending, and gc() can run many times', async () => {
  const { value } = await runNodeJson(`
    const mw = require(process.env.NMW_ROOT);
    (async () => {
      for (let i = 0; i < 3; i++) mw.gc();
      const rounds = await mw.settle();
      const again = await mw.settle({ maxRounds: 1 });
      console.log(JSON.stringify({ rounds, again }));
    })();
  `);
  assert.equal(typeof value.rounds, 'number');
  assert.ok(value.rounds >= 1);
  assert.equal(value.again, 1);
});
