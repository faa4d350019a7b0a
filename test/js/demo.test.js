'use strict';

// The demo (`npm start`, examples/demo.js): it builds the sample addon when
// needed, runs its workload and prints memory by tag, by call site and a
// snapshot diff. Run as a user would, in a child process from the package root.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const DEMO = path.join(ROOT, 'examples/demo.js');
const SAMPLE_DIR = path.join(ROOT, 'examples/sample-addon');
const C_API_DOC = path.join(ROOT, 'docs/c-api.md');

function runDemo() {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the test runner's marker must not reach the child
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    // The first run compiles the sample addon; later runs take about a second.
    const timer = setTimeout(() => child.kill('SIGKILL'), 4 * 60 * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test('examples/demo.js runs, exits 0 and prints tags, call sites and a diff', async () => {
  const { code, signal, stdout, stderr } = await runDemo();
  const context = `exit ${code} ${signal}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  assert.equal(code, 0, context);

  // The sample addon found native-memwatch.
  assert.match(stdout, /nmw_import\(\) -> ok/, context);

  // The three sections and the overhead line.
  assert.match(stdout, /^== Native memory by tag ==$/m, context);
  assert.match(stdout, /^== Top 10 call sites by current bytes/m, context);
  assert.match(stdout, /^== Diff: after the workload vs before/m, context);
  assert.match(stdout, /^Tracker overhead: /m, context);

  // Every tag of the sample addon appears in the tag table (name, sizes, blocks).
  const tagSection = stdout.split('== Native memory by tag ==')[1].split('\n\n')[0];
  for (const tag of ['sample:images', 'sample:cache', 'sample:parser', 'sample:thumbs']) {
    assert.match(tagSection, new RegExp(`^  ${tag}\\b.* \\d+(\\.\\d)? (B|KiB|MiB) +\\d+ `, 'm'), context);
  }

  // Call sites name the file, line and function; the thread-pool site is there.
  assert.match(stdout, /\.\.\/sample\.c:\d+ js_load_image +sample:images/, context);
  assert.match(stdout, /\.\.\/sample\.c:\d+ make_thumbnails +sample:thumbs/, context);

  // The diff shows the workload's growth with signed changes.
  const diffSection = stdout.split('== Diff: after the workload vs before')[1];
  assert.match(diffSection, /js_load_image +sample:images +\+\d+(\.\d)? MiB/, context);
  assert.match(diffSection, /make_thumbnails +sample:thumbs +\+\d+(\.\d)? MiB/, context);

  // Short, and no misuse reported by the tracker.
  assert.ok(stdout.trim().split('\n').length < 60, context);
  assert.doesNotMatch(stderr, /native-memwatch:/, context);
});

test('docs/c-api.md shows the sample addon exactly as it is in examples/', () => {
  const doc = fs.readFileSync(C_API_DOC, 'utf8');
  for (const [file, fence] of [
    ['binding.gyp', 'python'],
    ['sample.c', 'c'],
  ]) {
    const text = fs.readFileSync(path.join(SAMPLE_DIR, file), 'utf8').trimEnd();
    assert.ok(
      doc.includes(`\`\`\`${fence}\n${text}\n\`\`\``),
      `docs/c-api.md must contain examples/sample-addon/${file} verbatim in a \`\`\`${fence} block`,
    );
  }
  // The demo output quoted in the doc names lines of sample.c that allocate.
  const lines = fs.readFileSync(path.join(SAMPLE_DIR, 'sample.c'), 'utf8').split('\n');
  const quoted = [...doc.matchAll(/\.\.\/sample\.c:(\d+) (\w+)/g)];
  assert.ok(quoted.length > 0);
  for (const [, line, fn] of quoted) {
    assert.match(lines[Number(line) - 1], /nmw_\w+\(|get_string\(/, `sample.c:${line} (${fn}) is not an allocation`);
  }
});
