'use strict';

// The corpus harness: each scenario is a program that does one virtual second of
// work per step; after each step the harness ticks the detector's clock by one
// leak.interval (lib/events.js testing.drive(): no timer, no natural-GC
// readings), so the verdict does not depend on the machine's speed or on when V8
// collects by itself. Output: one JSON line on stdout.

const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const mw = require(ROOT);
const { testing } = require(path.join(ROOT, 'lib/events.js'));

const KiB = 1024;
const MiB = 1024 * 1024;

// An object of about 1 KiB on the V8 heap: a packed array of 126 small integers
// (8 bytes each with pointer compression off, 4 with it on: then ~0.5 KiB).
function kib(seed) {
  const a = new Array(126);
  for (let i = 0; i < 126; i++) a[i] = (seed + i) & 0x3fffffff;
  return a;
}

// A stable heap of about `mb` MiB: 1 KiB objects, kept for good.
function stableHeap(mb) {
  const keep = [];
  for (let i = 0; i < mb * 1024; i++) keep.push(kib(i));
  return keep;
}

// Garbage: `n` short-lived objects with a 1 KiB string each.
function churn(n) {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const o = { id: i, payload: kib(i), text: `${i}-${Math.random()}`, list: [i, i + 1, i + 2] };
    sum += o.payload.length + o.list.length;
  }
  return sum;
}

/**
 * Runs `steps` steps of step(i) (i from 1), one detector tick after each, with
 * the leak options `leak`; prints {events, forcedGcs, steps, leakStart}.
 */
async function run({ steps = 60, step, leak = {}, leakStart = null, setup }) {
  if (setup) await setup();
  mw.configure({ leak });
  const drive = testing.drive({ start: 0 });
  const events = [];
  mw.on('leak', (e) => {
    events.push({
      kind: e.kind,
      tag: e.tag,
      t: e.end.getTime() / 1000,
      start: e.start.getTime() / 1000,
      growth: e.growth,
      samples: e.samples,
      threadId: e.threadId,
      top: e.top,
      reason: e.reason,
      heapSnapshot: e.heapSnapshot,
    });
  });
  for (let i = 1; i <= steps; i++) {
    await step(i);
    await drive.tick();
  }
  const result = { events, forcedGcs: testing.monitor.forcedGcs, steps, leakStart };
  mw.removeAllListeners('leak');
  return result;
}

function print(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

module.exports = { ROOT, mw, run, print, stableHeap, churn, kib, KiB, MiB };
