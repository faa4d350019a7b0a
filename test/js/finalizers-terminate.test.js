'use strict';

// A worker terminated while the finalizer fixture's churn() is inside its native
// loop (issue 7, item 5). Once the worker is terminating, Node-API calls fail;
// churn() used to return at the failed call with its handle scope still open,
// and Node aborted (`Assertion failed: (open_handle_scopes) ==
// (open_handle_scopes_before)`), killing the whole process. Each churn() here
// asks for 2^32-1 objects, so it only ever returns through that failure path:
// the worker is terminated as soon as it says it is about to call it.

const test = require('node:test');
const assert = require('node:assert/strict');

const { buildFinalizerFixture } = require('../helpers/finalizer-fixture.js');
const { runNode } = require('../helpers/child.js');

const FIN_FIXTURE = buildFinalizerFixture();

test('terminating a worker inside churn(), for each kind, audited or not: no abort', async () => {
  const r = await runNode(`
    const { Worker } = require('node:worker_threads');
    const { once } = require('node:events');
    const cases = [[0, true], [0, false], [1, true], [1, false]];
    (async () => {
      const codes = [];
      for (const [kind, audited] of cases) {
        for (let round = 0; round < 2; round++) {
          const w = new Worker(\`
            const { parentPort } = require('node:worker_threads');
            require(process.env.NMW_ROOT);
            const fx = require(process.env.NMW_FIN_FIXTURE);
            const t = fx.tag('churn-terminate');
            parentPort.postMessage('go');
            fx.churn(${'${kind}'}, 4294967295, t, ${'${audited}'});
            // Reached only when the failure path returned (termination is
            // asynchronous: the message may still get out).
            parentPort.postMessage('returned');
          \`, { eval: true });
          const messages = [];
          w.on('message', (m) => { messages.push(m); if (m === 'go') w.terminate(); });
          const [code] = await once(w, 'exit');
          codes.push({ kind, audited, code, messages });
        }
      }
      console.log(JSON.stringify(codes));
    })();
  `, { env: { NMW_FIN_FIXTURE: FIN_FIXTURE } });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.code, 0, r.stderr);
  const codes = JSON.parse(r.stdout.trim());
  assert.equal(codes.length, 8);
  // Terminated: exit code 1, after 'go'.
  for (const c of codes) assert.deepEqual({ code: c.code, first: c.messages[0] }, { code: 1, first: 'go' }, JSON.stringify(c));
});
