'use strict';
// Every code block of README.md and docs/*.md marked as a complete program is
// run, so the docs cannot drift from the code. The convention (docs/README
// "Runnable examples" in CONTRIBUTING terms): a fenced block whose info string
// is `js run` (CommonJS) or `mjs run` (ES module) is a whole program; it must
// exit 0 and print no native-memwatch warning. Any other block (```js, ```c,
// ...) is a snippet and is not run. New docs are picked up without a change here.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
// Inside the package, so require('native-memwatch') resolves to it (self-reference).
const TMP = path.join(ROOT, '.nmw-tmp', 'docs');

/** [{doc, line, lang, code}] for each `js run` / `mjs run` block of the given markdown text. */
function runnableBlocks(doc, text) {
  const blocks = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\w+)([^`]*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang, rest] = open;
    let j = i + 1;
    while (j < lines.length && !lines[j].startsWith(indent + fence)) j++;
    if (/(^|\s)run(\s|$)/.test(rest) && (lang === 'js' || lang === 'mjs')) {
      blocks.push({ doc, line: i + 1, lang, code: lines.slice(i + 1, j).map((l) => l.slice(indent.length)).join('\n') });
    }
    i = j;
  }
  return blocks;
}

function docs() {
  const files = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
  return files.flatMap((doc) => runnableBlocks(doc, fs.readFileSync(path.join(ROOT, doc), 'utf8')));
}

test('the extractor takes only blocks marked run, and their whole text', () => {
  const md = ['```js', 'snippet()', '```', '```js run', 'const a = 1;', '', 'console.log(a);', '```', '   ```mjs run', '   import x from "y";', '   ```', '```c run', 'int x;', '```'].join('\n');
  assert.deepEqual(runnableBlocks('x.md', md), [
    { doc: 'x.md', line: 4, lang: 'js', code: 'const a = 1;\n\nconsole.log(a);' },
    { doc: 'x.md', line: 9, lang: 'mjs', code: 'import x from "y";' },
  ]);
});

const blocks = docs();
test('README and docs have runnable programs', () => {
  assert.ok(blocks.some((b) => b.doc === 'README.md'), 'README.md has a `js run` block');
  assert.ok(blocks.length >= 4, `${blocks.length} runnable blocks`);
});

for (const b of blocks) {
  test(`${b.doc}:${b.line} runs`, () => {
    fs.mkdirSync(TMP, { recursive: true });
    const file = path.join(TMP, `${b.doc.replace(/[/.]/g, '_')}_${b.line}.${b.lang === 'mjs' ? 'mjs' : 'js'}`);
    fs.writeFileSync(file, `${b.code}\n`);
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, [file], { cwd: ROOT, env, encoding: 'utf8', timeout: 120000 });
    const context = `${b.doc}:${b.line}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    assert.equal(r.status, 0, context);
    assert.doesNotMatch(r.stderr, /native-memwatch:/, context);
    fs.rmSync(file);
  });
}

module.exports = { runnableBlocks };
