'use strict';

// The plain fallback: an addon loaded before native-memwatch allocates with
// plain libc blocks of the same layout. Once native-memwatch is loaded and the
// addon imports again, those old blocks are freed without misuse and without
// touching the counters, and new blocks are tracked.

const test = require('node:test');
const assert = require('node:assert/strict');

const { buildFixture } = require('../helpers/build.js');
const { runNode, runNodeJson } = require('../helpers/child.js');

buildFixture();

test('blocks made before native-memwatch was loaded are freed cleanly after it is', async () => {
  const { value, stderr } = await runNodeJson(`
    const fx = require(process.env.NMW_FIXTURE); // native-memwatch not loaded yet
    const out = { status: fx.importStatus };
    out.tagBefore = fx.tag('fb');                  // NMW_ENOTLOADED: untagged
    out.reimportBefore = fx.reimport();
    const h = fx.alloc(out.tagBefore, 100);
    const r = fx.alloc(0, 50);
    const s = fx.strdup(0, 'plain');
    const a = fx.aligned(0, 256, 30);
    out.sizes = [fx.blockSize(h), fx.blockSize(r), fx.blockSize(s), fx.blockSize(a)];
    out.alignedOk = a % 256n === 0n;
    out.limitBefore = fx.setLimit(0, 10);          // NMW_ENOTLOADED
    out.trackBefore = fx.untrackFree(fx.trackMalloc(0, 10)); // NMW_ENOTLOADED

    const mw = require(process.env.NMW_ROOT);
    out.statusAfterLoad = fx.importStatus;         // the property is from init
    out.reimport = fx.reimport();
    const totals = () => mw.stats().total;
    const t0 = totals();
    const m0 = mw.stats().misuse.total;
    out.sizesAfter = [fx.blockSize(h), fx.blockSize(r)];
    fx.free(h);
    fx.free(s, 0);
    fx.free(a);
    const t1 = totals();
    out.unchanged = JSON.stringify(t0) === JSON.stringify(t1);
    out.t0 = t0; out.t1 = t1;
    out.misuseAfterFree = mw.stats().misuse.total - m0;

    // realloc of a plain block makes a tracked one (untagged when no tag is named).
    const id = fx.tag('fb');
    out.tagAfter = id;
    out.tagFromJs = mw.tag('fb');
    const u0 = mw.stats().tags.untagged;
    const moved = fx.realloc(r, 80, id);
    out.movedSize = fx.blockSize(moved);
    const fbAfterRealloc = mw.stats().tags.fb;
    out.fbAfterRealloc = { currBytes: fbAfterRealloc.currBytes, allocs: fbAfterRealloc.allocs };

    const n = fx.alloc(id, 64);
    const fb = mw.stats().tags.fb;
    out.fb = { currBytes: fb.currBytes, currBlocks: fb.currBlocks, allocs: fb.allocs };
    fx.freeMany([n, moved]);
    const fb2 = mw.stats().tags.fb;
    out.fb2 = { currBytes: fb2.currBytes, frees: fb2.frees };
    out.misuse = mw.stats().misuse.total - m0;
    out.untaggedUnchanged = mw.stats().tags.untagged.currBytes === u0.currBytes;
    console.log(JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? String(v) : v)));
  `);
  assert.equal(value.status, 'not-loaded');
  assert.equal(value.tagBefore, 0);
  assert.equal(value.reimportBefore, 'not-loaded');
  assert.deepEqual(value.sizes, [100, 50, 6, 30]);
  assert.equal(value.alignedOk, true);
  assert.equal(value.limitBefore, 1);
  assert.equal(value.trackBefore, 1);
  assert.equal(value.statusAfterLoad, 'not-loaded');
  assert.equal(value.reimport, 'ok');
  assert.deepEqual(value.sizesAfter, [100, 50], 'the tracker knows the size of plain blocks');
  assert.deepEqual(value.t1, value.t0, 'freeing plain blocks changes no counter');
  assert.equal(value.misuseAfterFree, 0);
  assert.notEqual(value.tagAfter, 0);
  assert.equal(value.tagAfter, value.tagFromJs);
  assert.equal(value.movedSize, 80);
  assert.deepEqual(value.fbAfterRealloc, { currBytes: 80, allocs: 1 });
  assert.deepEqual(value.fb, { currBytes: 144, currBlocks: 2, allocs: 2 });
  assert.deepEqual(value.fb2, { currBytes: 0, frees: 2 });
  assert.equal(value.misuse, 0);
  assert.equal(value.untaggedUnchanged, true);
  assert.doesNotMatch(stderr, /native-memwatch/, 'nothing reported');
});

test('native-memwatch loaded after the addon, without reimport: calls stay plain', async () => {
  const { value } = await runNodeJson(`
    const fx = require(process.env.NMW_FIXTURE);
    const mw = require(process.env.NMW_ROOT);
    const before = mw.stats().total.allocs;
    const h = fx.alloc(0, 10);
    const plainAllocs = mw.stats().total.allocs - before;
    fx.free(h);
    console.log(JSON.stringify({ status: fx.importStatus, plainAllocs, misuse: mw.stats().misuse.total }));
  `);
  assert.equal(value.status, 'not-loaded');
  assert.equal(value.plainAllocs, 0);
  assert.equal(value.misuse, 0);
});

test('nmw_import twice in one environment (reimport) keeps tracking', async () => {
  const result = await runNode(`
    const mw = require(process.env.NMW_ROOT);
    const fx = require(process.env.NMW_FIXTURE);
    const out = { status: fx.importStatus };
    out.again = fx.reimport();
    out.third = fx.reimport();
    const id = fx.tag('twice');
    fx.free(fx.alloc(id, 10), id);
    const t = mw.stats().tags.twice;
    out.counts = { allocs: t.allocs, frees: t.frees, currBytes: t.currBytes };
    out.misuse = mw.stats().misuse.total;
    console.log(JSON.stringify(out));
  `);
  assert.equal(result.code, 0, `exit ${result.code} ${result.signal}\n${result.stderr}`);
  assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').pop()), {
    status: 'ok',
    again: 'ok',
    third: 'ok',
    counts: { allocs: 1, frees: 1, currBytes: 0 },
    misuse: 0,
  });
});
