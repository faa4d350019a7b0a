'use strict';
// CLEAN (handles): a pool of 10 connections to a local server kept for good,
// and 20 short connections a second, each opened, used and closed.
const net = require('node:net');
const { run, print } = require('./harness.js');

const pool = [];
const server = net.createServer((socket) => {
  socket.on('data', (d) => socket.write(d));
  socket.on('end', () => socket.end());
});

function connect(port) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
    c.on('error', reject);
  });
}

function roundTrip(port) {
  return connect(port).then(
    (c) =>
      new Promise((resolve) => {
        c.once('data', () => c.end());
        c.once('close', resolve);
        c.write('ping');
      }),
  );
}

run({
  steps: 60,
  async setup() {
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    for (let i = 0; i < 10; i++) pool.push(await connect(server.address().port));
  },
  async step() {
    const port = server.address().port;
    await Promise.all(Array.from({ length: 20 }, () => roundTrip(port)));
  },
}).then((r) => {
  print({ ...r, kept: pool.length });
  process.exit(0);
});
