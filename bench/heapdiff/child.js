'use strict';

// One measurement of bench/heapdiff/run.js, in a process of its own (run with
// --expose-gc): `child.js <mode> [file]`. Every mode but parse-* first builds
// the workload heap: 500,000 objects of class Item (an object, a short string
// and a two-element array each: 4 snapshot nodes, about 2.05 M nodes and 77
// MiB of used heap in all). Prints one JSON line: the mode's figures and the
// process's peak RSS (VmHWM).
//   memwatch      @airbnb/node-memwatch's HeapDiff around 10,000 new Items
//   ours          native-memwatch's HeapDiff around the same 10,000 new Items
//   write FILE    writes a heap snapshot of the workload heap to FILE
//   parse-ours FILE   mw.summarizeHeapSnapshot(FILE)
//   parse-json FILE   JSON.parse(fs.readFileSync(FILE, 'utf8')) and a node count

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const [mode, file] = process.argv.slice(2);
const HEAP_OBJECTS = 500000;
const NEW_OBJECTS = 10000;

class Item {
  constructor(i) {
    this.id = i;
    this.name = `item-${i}`;
    this.values = [i, i + 1];
  }
}

// Peak and current RSS in bytes, from /proc/self/status (Linux), else getrusage.
function rss() {
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)[1]) * 1024;
    return { peak: kb('VmHWM'), now: kb('VmRSS'), source: '/proc/self/status VmHWM' };
  } catch {
    return { peak: process.resourceUsage().maxRSS * 1024, now: process.memoryUsage().rss, source: 'getrusage maxRSS' };
  }
}

function buildHeap() {
  globalThis.workload = [];
  for (let i = 0; i < HEAP_OBJECTS; i++) globalThis.workload.push(new Item(i));
  globalThis.gc();
  globalThis.gc();
}

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

async function main() {
  const out = { mode, node: process.version };
  if (mode === 'memwatch' || mode === 'ours') {
    const HeapDiff = mode === 'memwatch' ? require('@airbnb/node-memwatch').HeapDiff : require(ROOT).HeapDiff;
    buildHeap();
    out.heapUsed = process.memoryUsage().heapUsed;
    out.rssBefore = rss().now;
    const t0 = process.hrtime.bigint();
    const hd = new HeapDiff();
    const added = [];
    for (let i = 0; i < NEW_OBJECTS; i++) added.push(new Item(HEAP_OBJECTS + i));
    globalThis.added = added;
    const diff = hd.end();
    out.ms = ms(t0);
    const row = diff.change.details.find((d) => d.what === 'Item');
    out.nodesBefore = diff.before.nodes;
    out.itemsAdded = row ? row['+'] : null;
    out.itemsFreed = row ? row['-'] : null;
    out.rows = diff.change.details.length;
  } else if (mode === 'write') {
    buildHeap();
    const t0 = process.hrtime.bigint();
    require('node:v8').writeHeapSnapshot(file);
    out.ms = ms(t0);
    out.bytes = fs.statSync(file).size;
  } else if (mode === 'parse-ours') {
    const mw = require(ROOT); // loaded outside the timing, as JSON.parse needs no module
    const t0 = process.hrtime.bigint();
    const s = await mw.summarizeHeapSnapshot(file);
    out.ms = ms(t0);
    out.nodes = s.nodes;
    out.items = s.details.find((d) => d.what === 'Item').count;
  } else if (mode === 'parse-json') {
    const t0 = process.hrtime.bigint();
    const text = fs.readFileSync(file, 'utf8');
    out.readMs = ms(t0);
    const t1 = process.hrtime.bigint();
    const snap = JSON.parse(text);
    out.parseMs = ms(t1);
    out.ms = ms(t0);
    out.nodes = snap.nodes.length / snap.snapshot.meta.node_fields.length;
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  const r = rss();
  out.peakRss = r.peak;
  out.rssSource = r.source;
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
