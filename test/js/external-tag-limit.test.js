'use strict';

// The limit on external tags (issue 7, item 5): at most 64 tags can be external
// in a process (NMW_EXT_TAG_MAX; a tag keeps its slot once it has been external).
// Before the fix the 65th failed with "the tag table is full (4096 tags)" while
// only 66 tags existed. Runs in a child: the slots are process-wide and permanent.

const test = require('node:test');
const assert = require('node:assert/strict');
const { runNode } = require('../helpers/child.js');

test('the 65th external tag names the real limit; plain tags are still available', async () => {
  const r = await runNode(`
    const mw = require(process.env.NMW_ROOT);
    const before = mw.tags().filter((t) => t.external).length;
    let made = 0, error = null;
    for (let i = 0; i < 100 && !error; i++) {
      try { mw.tag('ext-' + i, { external: true }); made++; } catch (e) { error = e; }
    }
    const plain = mw.tag('still-plain');
    let setError = null;
    try { mw.setExternal(plain, true); } catch (e) { setError = e; }
    // A tag that already has a slot can be made external again.
    mw.setExternal('ext-0', false);
    mw.setExternal('ext-0', true);
    const out = (e) => e && { name: e.constructor.name, code: e.code, message: e.message };
    console.log(JSON.stringify({ before, made, error: out(error), setError: out(setError),
      tags: mw.tags().length, ext0: mw.tags().find((t) => t.name === 'ext-0').external }));
  `);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim());
  assert.equal(out.before + out.made, 64);
  assert.deepEqual(out.error, {
    name: 'RangeError',
    code: 'ERR_NMW_TOO_MANY_EXTERNAL_TAGS',
    message: `cannot make tag "ext-${out.made}" external: at most 64 tags can be external in a process, and 64 have been (a tag keeps its external slot once it has been external)`,
  });
  assert.deepEqual(out.setError, {
    name: 'RangeError',
    code: 'ERR_NMW_TOO_MANY_EXTERNAL_TAGS',
    message: 'cannot make tag "still-plain" external: at most 64 tags can be external in a process, and 64 have been (a tag keeps its external slot once it has been external)',
  });
  assert.equal(out.ext0, true);
  assert.ok(out.tags < 4096);
});
