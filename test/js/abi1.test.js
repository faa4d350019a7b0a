'use strict';

// ABI 1 compatibility: the consumer fixture built from the header of commit
// 68678f7 (test/fixtures/consumer-abi1, its own copy of include/) imports the
// current native-memwatch and gets exact counts and misuse detection.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');

const { ROOT } = require('../helpers/build.js');
const { runNodeJson } = require('../helpers/child.js');
const { buildAddon } = require('../../scripts/install.js');

const DIR = path.join(ROOT, 'test/fixtures/consumer-abi1');
const BINARY = path.join(DIR, 'build/Release/consumer.node');

test('an addon built against the ABI-1 header tracks exactly with the current addon', async () => {
  await buildAddon(DIR, { force: !fs.existsSync(BINARY), quiet: true });
  const { value } = await runNodeJson(
    `
    const mw = require(process.env.NMW_ROOT);
    const old = require(${JSON.stringify(BINARY)});
    const tag = old.tag('abi1.blocks');
    const before = mw.stats().misuse;
    const handles = [];
    for (let i = 0; i < 10; i++) handles.push(old.alloc(tag, 100 + i));
    const live = mw.stats().tags['abi1.blocks'];
    for (const h of handles) old.free(h, tag);
    const after = mw.stats().tags['abi1.blocks'];
    old.doubleFree(tag, 64);
    old.foreignFree();
    const misuse = mw.stats().misuse;
    console.log(JSON.stringify({
      importStatus: old.importStatus,
      live: [live.currBytes, live.currBlocks, live.allocs],
      after: [after.currBytes, after.currBlocks, after.frees, after.bytesFreed],
      doubleFree: misuse.doubleFree - before.doubleFree,
      foreignFree: misuse.foreignFree - before.foreignFree,
    }));
  `,
  );
  assert.deepEqual(value, {
    importStatus: 'ok',
    live: [1045, 10, 10],
    after: [0, 0, 10, 1045],
    doubleFree: 1,
    foreignFree: 1,
  });
});
