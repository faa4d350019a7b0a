'use strict';
// LEAK (heap, in a worker): the worker's heap is its own series; the main
// thread's heap is stable and must stay silent.
const path = require('node:path');
const { Worker, isMainThread, parentPort } = require('node:worker_threads');
const { run, print, churn, kib } = require('./harness.js');

if (isMainThread) {
  const w = new Worker(__filename);
  let workerResult = null;
  w.on('message', (m) => {
    workerResult = m;
  });
  w.on('exit', async () => {
    const main = await run({ steps: 45, step: () => churn(200) });
    // One list: the worker's events carry its threadId.
    print({ ...workerResult, events: [...workerResult.events, ...main.events], mainEvents: main.events.length });
  });
} else {
  const leaked = [];
  run({
    steps: 45,
    leakStart: 0,
    step() {
      for (let i = 0; i < 200; i++) leaked.push({ i, s: kib(i) });
      churn(200);
    },
  }).then((r) => parentPort.postMessage(r));
}
void path;
