#!/usr/bin/env node
'use strict';

// The native-memwatch demo (`npm start`). It builds and loads the sample addon
// (examples/sample-addon, the example of docs/c-api.md), which allocates through
// native_memwatch.h under four tags, on the JS thread and on the libuv thread
// pool, then prints what native-memwatch saw: memory by tag, the top call sites,
// and what a workload changed between two snapshots.

const fs = require('node:fs');
const path = require('node:path');

// native-memwatch first: the sample addon's nmw_import() finds it when it loads.
const mw = require('native-memwatch');
const { buildAddon } = require('../scripts/install.js');

const SAMPLE_DIR = path.join(__dirname, 'sample-addon');
const SAMPLE_BINARY = path.join(SAMPLE_DIR, 'build', 'Release', 'sample.node');
const KiB = 1024;
const MiB = 1024 * KiB;

// ---- building the sample addon ----

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** Builds the sample addon when its binary is missing or older than a source; loads it. */
function loadSample() {
  const inputs = [
    path.join(SAMPLE_DIR, 'binding.gyp'),
    path.join(SAMPLE_DIR, 'sample.c'),
    path.join(mw.include_dir, 'native_memwatch.h'),
  ];
  const built = mtime(SAMPLE_BINARY);
  let note = 'already built';
  if (built < 0 || inputs.some((file) => mtime(file) > built)) {
    const start = Date.now();
    try {
      buildAddon(SAMPLE_DIR, { force: true, quiet: true });
    } catch (err) {
      console.error(err.message);
      if (err.output) console.error(err.output);
      process.exit(1);
    }
    note = `built in ${((Date.now() - start) / 1000).toFixed(1)} s`;
  }
  return { sample: require(SAMPLE_BINARY), note };
}

// ---- formatting: mw.format / mw.table and the helpers behind them (lib/format.js) ----

const { size, signed, siteName, alignedLines: table } = require('../lib/format.js');

// ---- the workload ----

// Deterministic text: `count` words drawn from word<first> .. word<last>.
function text(count, first, last) {
  let seed = 12345;
  const words = [];
  for (let i = 0; i < count; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    words.push(`word${first + (Math.floor(seed / 65536) % (last - first + 1))}`);
  }
  return words.join(' ');
}

// Thumbnails made on the libuv thread pool, `batches` calls at once.
async function thumbnails(sample, batches, count, bytes) {
  const made = await Promise.all(Array.from({ length: batches }, () => sample.thumbnailsAsync(count, bytes)));
  return made.reduce((a, b) => a + b, 0);
}

async function main() {
  const { sample, note } = loadSample();
  const out = [];
  out.push(`native-memwatch ${mw.version} demo: the native memory of examples/sample-addon`);
  out.push(`sample addon: ${note}; nmw_import() -> ${sample.importStatus}`);
  out.push('sizes: B, KiB = 1024 B, MiB = 1024 KiB; "blocks" = live allocations');

  // Before: images, cache entries, parsed text, and thumbnails from the thread pool.
  for (let i = 0; i < 8; i++) sample.loadImage(640, 480);
  for (let i = 0; i < 1000; i++) sample.cachePut(`user:${i}`, `{"id":${i},"name":"user number ${i}"}`);
  sample.parse(text(5000, 0, 299));
  let pooled = await thumbnails(sample, 2, 64, 16 * KiB);
  const before = mw.snapshot();

  // The workload: bigger images replace most of the old ones, the cache and the
  // symbol table grow, more thumbnails come from the pool and the oldest go.
  for (let i = 0; i < 3; i++) sample.loadImage(1920, 1080);
  sample.dropImages(6);
  for (let i = 1000; i < 3000; i++) sample.cachePut(`user:${i}`, `{"id":${i},"name":"user number ${i}"}`);
  sample.parse(text(8000, 200, 799));
  pooled += await thumbnails(sample, 4, 48, 24 * KiB);
  sample.dropThumbnails(1);
  const after = mw.snapshot();

  const stats = mw.stats();
  const tagRows = Object.entries(stats.tags)
    .filter(([, t]) => t.allocs > 0)
    .sort(([, a], [, b]) => b.currBytes - a.currBytes)
    .map(([name, t]) => [name + (t.external ? ' (external)' : ''), size(t.currBytes), t.currBlocks, size(t.peakBytes)]);
  tagRows.push(['all tags', size(stats.total.currBytes), stats.total.currBlocks, size(stats.total.peakBytes)]);
  out.push('', '== Native memory by tag ==');
  out.push(...table(['tag', 'current', 'blocks', 'peak'], tagRows, 'lrrr'));

  out.push('', '== Top 10 call sites by current bytes (mw.sites()) ==');
  const siteRows = mw.sites({ limit: 10 }).map((s) => [siteName(s), s.tag, size(s.currBytes), s.currBlocks]);
  out.push(...table(['call site', 'tag', 'current', 'blocks'], siteRows, 'llrr'));

  out.push('', "== Diff: after the workload vs before (after.compareTo(before, {groupBy: 'site'})) ==");
  const diffRows = after
    .compareTo(before, { groupBy: 'site' })
    .filter((d) => d.bytesDiff !== 0 || d.blocksDiff !== 0)
    .slice(0, 10)
    .map((d) => [siteName(d), d.tag, signed(d.bytesDiff, size), size(d.bytes), signed(d.blocksDiff)]);
  out.push(...table(['call site', 'tag', 'change', 'now', 'blocks'], diffRows, 'llrrr'));

  const { blockBytes, metadataBytes, totalBytes } = stats.overhead;
  const share = stats.total.currBytes > 0 ? ((100 * totalBytes) / stats.total.currBytes).toFixed(1) : '0';
  out.push(
    '',
    `Thread pool: ${pooled} thumbnails made by napi async work with nmw_malloc_env().`,
    `Tracker overhead: ${size(totalBytes)} (${share}% of the ${size(stats.total.currBytes)} tracked): ` +
      `${size(blockBytes)} of block headers and canaries, ${size(metadataBytes)} of counters and tables.`,
  );
  console.log(out.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
