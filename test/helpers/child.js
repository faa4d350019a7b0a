'use strict';

// Runs a Node script in a child process and collects what it printed, for the
// tests that look at stderr, exit codes or a process started without flags.

const { spawn } = require('node:child_process');
const path = require('node:path');
const { ROOT, BINARY } = require('./build.js');

/**
 * Runs `source` with `node [execArgv] -e source [args]`.
 * The child sees NMW_ROOT (the package) and NMW_FIXTURE (the built consumer.node)
 * in its environment. Resolves to {code, signal, stdout, stderr}; never rejects
 * on a non-zero exit.
 */
function runNode(source, { args = [], execArgv = [], env = {}, cwd = ROOT, timeout = 120000 } = {}) {
  const childEnv = { ...process.env, NMW_ROOT: ROOT, NMW_FIXTURE: BINARY, ...env };
  delete childEnv.NODE_TEST_CONTEXT; // keep the test runner's marker out of the child
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, '-e', source, ...args], {
      cwd,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
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

/**
 * Runs `source` and parses the last stdout line as JSON (the script prints its
 * result with console.log(JSON.stringify(...))). Throws with the child's output
 * when it exits with an error or prints no JSON.
 */
async function runNodeJson(source, options) {
  const result = await runNode(source, options);
  const lines = result.stdout.trim().split('\n');
  const last = lines[lines.length - 1];
  let value;
  try {
    value = JSON.parse(last);
  } catch {
    value = undefined;
  }
  if (result.code !== 0 || value === undefined) {
    throw new Error(
      `child failed: code ${result.code}, signal ${result.signal}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
  return { ...result, value };
}

module.exports = { runNode, runNodeJson, ROOT, FIXTURE_PATH: BINARY, FIXTURE_SRC: path.join(ROOT, 'test/fixtures/consumer-addon/src') };
