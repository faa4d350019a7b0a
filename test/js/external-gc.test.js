'use strict';

// GC pressure is real: JS objects that each own 4 MiB of native memory (a block of
// the tag wrapped with napi_wrap, freed by the wrap's finalizer) are created in a
// loop until 2 GiB have passed through. The objects are tiny on the JS heap, so V8
// only collects them early if it knows about the native memory behind them:
//
// - tag external: every 4 MiB block is reported to V8 at once (it crosses the 1 MiB
//   threshold on the JS thread), V8 sees external memory grow past its limit (about
//   64 MiB above the level after the last GC), runs GCs, and the finalizers free the
//   blocks. Peak tracked bytes stay far below 2 GiB.
// - tag not external: V8 hears of nothing, runs no GC, and every block stays until
//   the end: the peak approaches 2 GiB.
//
// The blocks are never touched (malloc semantics), so 2 GiB costs address space,
// not RSS. Finalizers of a normal (non-experimental) module run from a SetImmediate
// after the GC, not inside it, so the loop yields to the event loop every iteration.
//
// Bounds and why:
// - external: peak < 512 MiB. Runs of this test see 164-176 MiB (about 20 full
//   GCs); 512 MiB leaves 3x room for a slower GC schedule and is still a quarter of
//   the 2 GiB that passed through.
// - not external: peak >= 1.5 GiB. Runs see exactly 2 GiB with 0 GCs: the child
//   runs a full GC first (mw.gc()), so its young generation starts empty and the
//   small garbage of 512 iterations fits in it. The bound allows one incidental
//   scavenge to free up to a quarter of the objects.
// - GC counts from PerformanceObserver 'gc' entries: the external run must see full
//   (major) GCs, at least 4 (runs see about 20), and more than the other run.
// No time is measured.

const test = require('node:test');
const assert = require('node:assert/strict');

const { buildFixture } = require('../helpers/build.js');
const { runNodeJson } = require('../helpers/child.js');

buildFixture();

const MiB = 1024 * 1024;

const CHILD = `
  const mw = require(process.env.NMW_ROOT);
  const fx = require(process.env.NMW_FIXTURE);
  const { PerformanceObserver, constants } = require('node:perf_hooks');
  const external = process.argv[1] === 'external';
  const SIZE = 4 * 1024 * 1024;
  const TOTAL = 2 * 1024 * 1024 * 1024;
  let gcs = 0;
  let major = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcs += 1;
      if (entry.detail && entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major += 1;
    }
  });
  (async () => {
    const name = 'gc-pressure';
    const id = mw.tag(name, { external });
    // Start from an empty young generation, and count only the loop's GCs.
    mw.gc();
    await mw.settle();
    await new Promise(setImmediate);
    observer.observe({ entryTypes: ['gc'] });
    let last = null;
    let made = 0;
    for (let passed = 0; passed < TOTAL; passed += SIZE) {
      last = fx.externalObject(id, SIZE);
      if (last === null) throw new Error('allocation failed');
      made += 1;
      await new Promise(setImmediate); // lets queued finalizers run
    }
    last = null;
    const during = mw.stats().tags[name];
    // Let the observer deliver its last entries.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise(setImmediate);
    observer.disconnect();
    const env = mw.stats().external.environment;
    console.log(JSON.stringify({
      external,
      made,
      peakBytes: during.peakBytes,
      allocs: during.allocs,
      frees: during.frees,
      gcs,
      major,
      flagged: mw.tags().find((t) => t.name === name).external,
      adjustCalls: env.adjustCalls,
      offThreadCalls: env.offThreadCalls,
    }));
  })();
`;

test('external-tagged memory owned by JS objects makes V8 collect them; untagged it piles up', async () => {
  const on = (await runNodeJson(CHILD, { args: ['external'] })).value;
  const off = (await runNodeJson(CHILD, { args: ['plain'] })).value;
  const report = JSON.stringify({ on, off });

  for (const v of [on, off]) assert.equal(v.made, 512, '2 GiB in 4 MiB objects');
  assert.equal(on.flagged, true);
  assert.equal(off.flagged, false);

  // Flag on: V8 collects, the finalizers free, the peak stays bounded.
  assert.ok(on.peakBytes < 512 * MiB, `external: peak ${on.peakBytes / MiB} MiB should stay < 512 MiB: ${report}`);
  assert.ok(on.frees >= 512 - 128, `external: most blocks were freed during the loop: ${report}`);
  assert.ok(on.major >= 4, `external: V8 ran full GCs: ${report}`);
  assert.ok(on.adjustCalls >= 512, `external: each 4 MiB block was reported: ${report}`);
  assert.equal(on.offThreadCalls, 0);

  // Flag off: V8 is blind to the native memory and the blocks pile up.
  assert.ok(off.peakBytes >= 1536 * MiB, `not external: peak ${off.peakBytes / MiB} MiB should reach 1.5 GiB: ${report}`);
  assert.equal(off.adjustCalls, 0, `not external: nothing reported: ${report}`);
  assert.ok(on.major > off.major, `more full GCs with the flag on: ${report}`);
  assert.ok(on.gcs > off.gcs, report);
});
