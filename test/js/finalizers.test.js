'use strict';

// Finalizer audit, in this process: the lifecycles of Node's test_finalizer and
// 6_object_wrap (GC-driven finalization, several finalizers on one object, a
// finalizer that deletes its own reference), cancellation (remove_wrap, early
// reference deletion, instance data replaced), live listings, the duration
// histogram, stacks, double finalization and double reporting, and argument
// checks. Every test uses fresh tags: counters are per environment and tag.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const mw = require('../../');
const binding = require('../../lib/binding.js');
const { buildFinalizerFixture, fixtureSite } = require('../helpers/finalizer-fixture.js');
const { freshTag } = require('../helpers/common.js');

const fx = require(buildFinalizerFixture());

// The counts of one tag in this environment (zeros when it has none).
function counts(name) {
  const t = mw.finalizers().tags[name];
  if (!t) return { registered: 0, finalized: 0, finalizedAtTeardown: 0, cancelled: 0, live: 0, neverRun: 0 };
  const { registered, finalized, finalizedAtTeardown, cancelled, live, neverRun } = t;
  return { registered, finalized, finalizedAtTeardown, cancelled, live, neverRun };
}

function state(registered, finalized, cancelled, live) {
  return { registered, finalized, finalizedAtTeardown: 0, cancelled, live, neverRun: 0 };
}

// settle() until pred() holds (at most 1000 rounds, not a time: a loaded machine
// only makes it take longer). External (array) buffers are freed by V8 off the
// main thread and their finalizers posted back, so one settle() round may end
// before they arrive.
async function settleUntil(pred) {
  for (let i = 0; i < 1000 && !pred(); i++) {
    await mw.settle();
    if (!pred()) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Objects are made inside plain functions: an async test function's frame would
// keep its locals alive across awaits.
function made(fn) {
  fn();
}

function isSite(row, name) {
  const want = fixtureSite(name);
  return path.basename(row.file) === want.file && row.line === want.line;
}

test('the fixture found the C API', () => {
  assert.equal(fx.importStatus, 0);
});

test('GC-driven finalization of wraps, finalizers and externals (test_finalizer, 6_object_wrap)', async () => {
  const names = {
    wrap: freshTag('f-wrap'),
    wrapRef: freshTag('f-wrapref'),
    fin: freshTag('f-fin'),
    ext: freshTag('f-ext'),
    eab: freshTag('f-eab'),
    ebuf: freshTag('f-ebuf'),
  };
  const id = {};
  for (const [k, v] of Object.entries(names)) id[k] = fx.tag(v);
  await mw.settle();
  const before = fx.counts().finalized;
  made(() => {
    for (let i = 0; i < 100; i++) fx.wrap({}, id.wrap, false);
    // The finalizer deletes its own reference (6_object_wrap's destructor).
    for (let i = 0; i < 50; i++) fx.wrap({}, id.wrapRef, true);
    // Three finalizers on each of ten objects (test_finalizer).
    for (let i = 0; i < 10; i++) {
      const o = {};
      for (let k = 0; k < 3; k++) fx.addFinalizer(o, id.fin, k === 0);
    }
    for (let i = 0; i < 20; i++) fx.createExternal(id.ext);
    for (let i = 0; i < 10; i++) fx.createExternalArrayBuffer(64, id.eab);
    for (let i = 0; i < 10; i++) fx.createExternalBuffer(64, id.ebuf);
  });
  assert.deepEqual(counts(names.wrap), state(100, 0, 0, 100));
  await settleUntil(() => counts(names.eab).finalized === 10 && counts(names.ebuf).finalized === 10);
  assert.deepEqual(counts(names.wrap), state(100, 100, 0, 0));
  assert.deepEqual(counts(names.wrapRef), state(50, 50, 0, 0));
  assert.deepEqual(counts(names.fin), state(30, 30, 0, 0));
  assert.deepEqual(counts(names.ext), state(20, 20, 0, 0));
  assert.deepEqual(counts(names.eab), state(10, 10, 0, 0));
  assert.deepEqual(counts(names.ebuf), state(10, 10, 0, 0));
  // The fixture saw exactly as many of its finalizers run.
  assert.equal(fx.counts().finalized - before, 220);
  assert.equal(fx.counts().liveRefs, 0);
  // Deleting its own reference from the finalizer cancelled nothing.
  assert.equal(mw.stats().misuse.doubleFinalize, 0);
  const t = mw.finalizers().tags[names.wrap];
  assert.equal(t.durations.histogram.reduce((n, b) => n + b.count, 0), 100);
  assert.equal(t.oldestLiveMs, null);
});

test('live objects: counts, oldest age, listing with kind, tag, site, filters', async () => {
  const name = freshTag('f-live');
  const other = freshTag('f-live-other');
  const tag = fx.tag(name);
  const keep = [];
  made(() => {
    for (let i = 0; i < 5; i++) {
      const o = {};
      fx.wrap(o, tag, false);
      keep.push(o);
    }
    keep.push(fx.createExternal(tag));
    keep.push(fx.createExternalBuffer(16, fx.tag(other)));
  });
  await new Promise((resolve) => setTimeout(resolve, 30));
  const young = {};
  fx.addFinalizer(young, tag, false);
  await mw.settle();
  assert.deepEqual(counts(name), state(7, 0, 0, 7));
  const summary = mw.finalizers().tags[name];
  assert.ok(summary.oldestLiveMs >= 25, `oldestLiveMs ${summary.oldestLiveMs}`);

  const rows = mw.finalizers.live({ tag: name });
  assert.equal(rows.length, 7);
  assert.deepEqual(
    rows.map((r) => r.kind),
    ['wrap', 'wrap', 'wrap', 'wrap', 'wrap', 'external', 'finalizer'],
  );
  for (const r of rows) {
    assert.equal(r.tag, name);
    assert.equal(typeof r.id, 'number');
    assert.equal(typeof r.environment, 'number');
    assert.equal(r.stack, undefined);
  }
  assert.ok(rows.slice(0, 5).every((r) => isSite(r, 'wrap') && r.function === 'fx_wrap'));
  assert.ok(isSite(rows[5], 'external') && rows[5].function === 'fx_create_external');
  assert.ok(isSite(rows[6], 'addFinalizer'));
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i].ageMs <= rows[i - 1].ageMs);
  // Filters: age, limit, another tag, all of this environment.
  // Ages grow between calls by however long the machine takes, so the check is
  // made against the listing's own ages, not a fixed threshold: with T the age
  // the sixth record had in `rows`, the six older ones are in any later listing
  // at T; the young one is in it only if it had reached T by then, which a
  // listing made after it bounds from above.
  const T = rows[5].ageMs;
  const older = mw.finalizers.live({ tag: name, olderThanMs: T });
  const after = mw.finalizers.live({ tag: name });
  assert.deepEqual(older.slice(0, 6).map((r) => r.id), rows.slice(0, 6).map((r) => r.id));
  assert.ok(older.every((r) => r.ageMs >= T));
  if (after[6].ageMs < T) assert.equal(older.length, 6);
  else assert.ok(older.length === 6 || older.length === 7);
  assert.deepEqual(mw.finalizers.live({ tag: name, olderThanMs: 1e12 }), []);
  assert.equal(mw.finalizers.live({ tag: name, olderThanMs: 0 }).length, 7);
  assert.deepEqual(
    mw.finalizers.live({ tag: name, limit: 2 }).map((r) => r.id),
    rows.slice(0, 2).map((r) => r.id),
  );
  const ebuf = mw.finalizers.live({ tag: other });
  assert.equal(ebuf.length, 1);
  assert.equal(ebuf[0].kind, 'external_buffer');
  assert.ok(isSite(ebuf[0], 'externalBuffer'));
  const mine = mw.finalizers.live().filter((r) => r.tag === name || r.tag === other);
  assert.equal(mine.length, 8);
  keep.length = 0;
  await settleUntil(() => counts(name).live === 1 && counts(other).live === 0);
  assert.deepEqual(counts(name), state(7, 6, 0, 1)); // `young` is still referenced
  assert.deepEqual(counts(other), state(1, 1, 0, 0));
  assert.equal(young.constructor, Object);
});

test('remove_wrap cancels (Node-owned and caller-owned wraps), nothing leaks', async () => {
  const name = freshTag('f-remove');
  const tag = fx.tag(name);
  await mw.settle();
  const before = fx.counts().finalized;
  const objs = [];
  made(() => {
    for (let i = 0; i < 10; i++) {
      const o = {};
      fx.wrap(o, tag, i % 2 === 0);
      objs.push(o);
    }
  });
  for (const o of objs) assert.equal(fx.removeWrap(o, tag), true);
  assert.deepEqual(counts(name), state(10, 0, 10, 0));
  objs.length = 0;
  await mw.settle();
  assert.deepEqual(counts(name), state(10, 0, 10, 0));
  assert.equal(fx.counts().finalized, before); // no finalizer ran
  assert.equal(fx.counts().liveRefs, 0);
  assert.deepEqual(mw.finalizers.live({ tag: name }), []);
});

test('early reference deletion cancels wraps and finalizers', async () => {
  const name = freshTag('f-delref');
  const tag = fx.tag(name);
  await mw.settle();
  const before = fx.counts().finalized;
  const slots = [];
  made(() => {
    for (let i = 0; i < 10; i++) slots.push(fx.wrap({}, tag, true));
    for (let i = 0; i < 10; i++) slots.push(fx.addFinalizer({}, tag, true));
  });
  for (const slot of slots) fx.deleteRef(slot, tag);
  assert.deepEqual(counts(name), state(20, 0, 20, 0));
  await mw.settle();
  assert.deepEqual(counts(name), state(20, 0, 20, 0));
  assert.equal(fx.counts().finalized, before);
});

test('instance data replaced: the previous finalizer is cancelled, not leaked', async () => {
  const name = freshTag('f-inst');
  const tag = fx.tag(name);
  fx.setInstanceData(tag, 1);
  fx.setInstanceData(tag, 2);
  fx.setInstanceData(tag, 3);
  assert.equal(fx.getInstanceData(), 3);
  await mw.settle();
  assert.deepEqual(counts(name), state(3, 0, 2, 1));
  const live = mw.finalizers.live({ tag: name });
  assert.equal(live.length, 1);
  assert.equal(live[0].kind, 'instance_data');
  assert.ok(isSite(live[0], 'instanceData'));
  assert.equal(fx.counts().instanceFinalized, 0);
});

test('a slow finalizer shows in the duration histogram', async () => {
  const name = freshTag('f-slow');
  const tag = fx.tag(name);
  made(() => {
    for (let i = 0; i < 3; i++) fx.slowFinalizer({}, tag, 5);
  });
  await mw.settle();
  const t = mw.finalizers().tags[name];
  assert.equal(t.finalized, 3);
  const { histogram, maxNs, totalNs } = t.durations;
  assert.equal(histogram.reduce((n, b) => n + b.count, 0), 3);
  // 5 ms lies in (2^22, 2^23] ns; a busy wait can only take longer.
  for (const b of histogram) assert.ok(b.leNs >= 2 ** 23, JSON.stringify(histogram));
  assert.ok(maxNs >= 5e6 && maxNs < 1e9, `maxNs ${maxNs}`);
  assert.ok(totalNs >= 15e6, `totalNs ${totalNs}`);
  assert.equal(fx.counts().slowFinalized >= 3, true);
});

test('captureStacks records the JS stack at registration', async () => {
  const name = freshTag('f-stack');
  const tag = fx.tag(name);
  assert.deepEqual(mw.configure({ finalizers: { captureStacks: true } }).finalizers, { captureStacks: true });
  const keep = [];
  function registerWithStack() {
    const o = {};
    fx.wrap(o, tag, false);
    keep.push(o);
  }
  try {
    registerWithStack();
  } finally {
    mw.configure({ finalizers: { captureStacks: false } });
  }
  made(() => {
    const o = {};
    fx.wrap(o, tag, false);
    keep.push(o);
  });
  const rows = mw.finalizers.live({ tag: name });
  assert.equal(rows.length, 2);
  assert.match(rows[0].stack, /^ {4}at registerWithStack \(.*finalizers\.test\.js:\d+:\d+\)/);
  assert.equal(rows[1].stack, undefined);
  assert.ok(mw.finalizers().overhead.stackBytes > 0);
  keep.length = 0;
  await mw.settle();
  assert.deepEqual(counts(name), state(2, 2, 0, 0));
});

test('a double finalization is detected and reported; the finalizer is not called again', async () => {
  const name = freshTag('f-twice');
  const tag = fx.tag(name);
  made(() => fx.createExternal(tag));
  const [row] = mw.finalizers.live({ tag: name });
  await mw.settle();
  assert.deepEqual(counts(name), state(1, 1, 0, 0));
  const before = mw.stats().misuse;
  const ran = fx.counts().finalized;
  // Test-only: runs the trampoline again for the finished record.
  assert.equal(binding._testing.finalizeAgain(row.id), true);
  const after = mw.stats().misuse;
  assert.equal(after.doubleFinalize - before.doubleFinalize, 1);
  assert.equal(fx.counts().finalized, ran);
  assert.deepEqual(counts(name), state(1, 1, 0, 0));
  const site = after.sites.find((s) => s.doubleFinalize > 0 && isSite(s, 'external'));
  assert.ok(site, JSON.stringify(after.sites));
  assert.throws(() => binding._testing.finalizeAgain(0), RangeError);
});

test('external buffers over external-tagged blocks are reported as double reported', async () => {
  const dataTag = freshTag('f-ext-data');
  const name = freshTag('f-ext-buf');
  const externalId = mw.tag(dataTag, { external: true });
  const plainId = mw.tag(freshTag('f-plain-data'));
  const before = mw.stats().misuse.doubleReported;
  const keep = [];
  made(() => {
    keep.push(fx.createExternalBufferFromBlock(64, externalId, fx.tag(name)));
    keep.push(fx.createExternalBufferFromBlock(64, plainId, fx.tag(name)));
  });
  assert.equal(mw.stats().misuse.doubleReported - before, 1);
  keep.length = 0;
  await settleUntil(() => counts(name).live === 0);
  assert.deepEqual(counts(name), state(2, 2, 0, 0));
});

test('summaries: total, every environment, environments(), overhead', () => {
  const s = mw.finalizers();
  const sum = (key) => Object.values(s.tags).reduce((n, t) => n + t[key], 0);
  for (const key of ['registered', 'finalized', 'cancelled', 'live']) assert.equal(s.total[key], sum(key));
  const all = mw.finalizers({ environment: 'all' });
  assert.ok(all.total.registered >= s.total.registered);
  const envs = mw.finalizers.environments();
  const here = envs.find((e) => e.current);
  assert.ok(here);
  assert.equal(here.state, 'live');
  assert.equal(here.threadId, 0);
  const counters = ({ oldestLiveMs, ...rest }) => rest; // ages move with time
  assert.deepEqual(counters(here.total), counters(s.total));
  assert.deepEqual(counters(mw.finalizers({ environment: here.id }).total), counters(s.total));
  for (const key of ['recordBytes', 'totalBytes', 'capacity', 'live', 'peakLive', 'orphans']) {
    assert.equal(typeof s.overhead[key], 'number');
  }
  assert.ok(mw.stats().overhead.metadataBytes >= s.overhead.totalBytes);
});

test('arguments are checked', () => {
  const name = freshTag('f-args');
  fx.tag(name);
  assert.throws(() => mw.finalizers(5), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => mw.finalizers({ nope: 1 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => mw.finalizers({ environment: 'x' }), { name: 'TypeError', message: /options\.environment/ });
  assert.throws(() => mw.finalizers({ environment: 1.5 }), { name: 'RangeError', message: /options\.environment/ });
  assert.throws(() => mw.finalizers({ environment: 123456789 }), {
    name: 'RangeError',
    code: 'ERR_NMW_UNKNOWN_ENVIRONMENT',
  });
  assert.throws(() => mw.finalizers.live(null), { name: 'TypeError', message: /options/ });
  assert.throws(() => mw.finalizers.live({ tag: 'no-such-tag-anywhere' }), {
    name: 'RangeError',
    code: 'ERR_NMW_UNKNOWN_TAG',
  });
  assert.throws(() => mw.finalizers.live({ tag: {} }), { name: 'TypeError', message: /options\.tag/ });
  assert.throws(() => mw.finalizers.live({ olderThanMs: -1 }), { name: 'RangeError', message: /options\.olderThanMs/ });
  assert.throws(() => mw.finalizers.live({ olderThanMs: '1' }), { name: 'TypeError', message: /options\.olderThanMs/ });
  assert.throws(() => mw.finalizers.live({ limit: 0 }), { name: 'RangeError', message: /options\.limit/ });
  assert.throws(() => mw.finalizers.live({ limit: 'all' }), { name: 'TypeError', message: /options\.limit/ });
  assert.throws(() => mw.finalizers.live({ when: 1 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.equal(mw.finalizers.live({ tag: name, limit: Infinity }).length, 0);
  assert.throws(() => mw.finalizers.onExit('x'), { name: 'TypeError', message: /listener/ });
  assert.throws(() => mw.configure({ finalizers: true }), { name: 'TypeError', message: /options\.finalizers/ });
  assert.throws(() => mw.configure({ finalizers: { captureStacks: 1 } }), {
    name: 'TypeError',
    message: /options\.finalizers\.captureStacks/,
  });
  assert.throws(() => mw.configure({ finalizers: { other: true } }), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_VALUE',
  });
  const off = mw.finalizers.onExit(() => {});
  assert.equal(typeof off, 'function');
  off();
});
