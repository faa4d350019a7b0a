'use strict';

// native-memwatch/testing with the finalizer audit: live finalizers per tag are
// a signal of assertNoLeak and checkEachTest. This file loads the finalizer
// fixture alone (not the consumer fixture): two addons importing native-memwatch
// in one thread abort the process in this build (a duplicate cleanup hook).

const test = require('node:test');
const assert = require('node:assert');
const mw = require('../..');
const { assertNoLeak, checkEachTest } = require('native-memwatch/testing');
const { buildFinalizerFixture, fixtureSite } = require('../helpers/finalizer-fixture.js');
const { freshTag } = require('../helpers/common.js');

let fx;
test.before(() => {
  fx = require(buildFinalizerFixture());
});

const WRAP_SITE = () => `../src/fixture.c:${fixtureSite('wrap').line} in fx_wrap()`;

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

test('catches a finalizer that never runs because its objects stay reachable', async () => {
  const tag = freshTag('reachable');
  const id = fx.tag(tag);
  const held = [];
  const err = await rejection(
    assertNoLeak(() => {
      const o = {};
      fx.wrap(o, id, false);
      held.push(o);
    }),
  );
  assert.ok(err instanceof assert.AssertionError);
  assert.strictEqual(
    err.message,
    [
      'assertNoLeak: memory kept growing over 3 rounds of 100 iterations (after 100 warm-up iterations; mw.settle() after each round):',
      `  live finalizers of tag "${tag}": +300 over 3 rounds (100 per round, 1 per iteration)`,
      `    +300 wrap at ${WRAP_SITE()}`,
    ].join('\n'),
  );
  assert.deepStrictEqual(err.details.finalizers, [
    { tag, live: 300, sites: [{ kind: 'wrap', file: '../src/fixture.c', line: fixtureSite('wrap').line, function: 'fx_wrap', live: 300 }] },
  ]);
  assert.deepStrictEqual(err.details.native, []);
  // The fixture's native objects come from libc: without the finalizer signal
  // nothing is seen.
  await assertNoLeak(() => {
    const o = {};
    fx.wrap(o, id, false);
    held.push(o);
  }, { signals: ['native'], iterations: 10 });
  held.length = 0;
});

test('objects whose finalizers run after GC pass 50 times in a row', async () => {
  const id = fx.tag(freshTag('dropped'));
  for (let i = 0; i < 50; i++) {
    const report = await assertNoLeak(() => {
      fx.wrap({}, id, false);
      fx.createExternal(id);
    });
    assert.strictEqual(report.leaked, false);
  }
});

test('checkEachTest: a test that leaves a finalizer pending fails with the message', async () => {
  const tag = freshTag('eachfx');
  const id = fx.tag(tag);
  const hooks = {};
  checkEachTest({ beforeEach: (fn) => (hooks.before = fn), afterEach: (fn) => (hooks.after = fn) }, { signals: ['finalizers'] });
  await hooks.before();
  fx.wrap({}, id, false);
  await hooks.after({ name: 'dropped' });
  await hooks.before();
  const held = {};
  fx.wrap(held, id, false);
  fx.addFinalizer(held, id, false);
  const err = await rejection(hooks.after({ name: 'held' }));
  assert.strictEqual(
    err.message,
    [
      'checkEachTest: test "held" left memory outstanding after it ended and mw.settle() ran:',
      `  live finalizers of tag "${tag}": +2`,
      `    +1 finalizer at ../src/fixture.c:${fixtureSite('addFinalizer').line} in fx_add_finalizer()`,
      `    +1 wrap at ${WRAP_SITE()}`,
    ].join('\n'),
  );
  assert.strictEqual(mw.finalizers().tags[tag].live, 2);
});
