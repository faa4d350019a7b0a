'use strict';

// A synthetic heap snapshot over 1 GB (over V8's 512 MB string limit, so
// JSON.parse cannot read it) is summarized with a bounded peak RSS: the parser
// keeps the graph and the strings it refers to, not the text. A memory bound,
// not a time.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { writeSyntheticSnapshot } = require('../helpers/synthetic-snapshot.js');
const { runNode } = require('../helpers/child.js');

const GB = 1024 * 1024 * 1024;
const RSS_BOUND_MB = 160;

test(`a 1.1 GB snapshot is summarized in under ${RSS_BOUND_MB} MB of peak RSS`, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-large-'));
  const file = path.join(dir, 'large.heapsnapshot');
  try {
    const size = writeSyntheticSnapshot(file, { nodes: 200000, classes: 7, fillerBytes: 1.1 * GB });
    assert.ok(size > 1.1 * GB, `the file is ${size} bytes`);
    const r = await runNode(
      `
      const mw = require(process.env.NMW_ROOT);
      mw.summarizeHeapSnapshot(process.argv[1]).then((s) => {
        const rows = s.details.map((d) => [d.what, d.count, d.size_bytes]);
        console.log(JSON.stringify({ nodes: s.nodes, size_bytes: s.size_bytes, rows, maxRssKb: process.resourceUsage().maxRSS }));
      });
      `,
      { args: [file], timeout: 600000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.nodes, 200001);
    assert.equal(out.size_bytes, 200000 * 32);
    const expected = [];
    for (let c = 0; c < 7; c++) {
      const count = Math.floor(200000 / 7) + (c < 200000 % 7 ? 1 : 0);
      expected.push([`Class${c}`, count, count * 32]);
    }
    expected.sort((a, b) => b[2] - a[2] || b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    assert.deepEqual(out.rows, expected);
    const peakMb = out.maxRssKb / 1024;
    assert.ok(peakMb < RSS_BOUND_MB, `peak RSS ${peakMb.toFixed(1)} MB for a ${(size / GB).toFixed(2)} GB file`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
