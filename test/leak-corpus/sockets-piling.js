'use strict';
// LEAK (handles, TCPSocketWrap): each request opens a connection to a local
// server and never closes it: both ends stay open, 6 sockets per second.
const net = require('node:net');
const { run, print } = require('./harness.js');

const kept = [];
const server = net.createServer((socket) => kept.push(socket));

function connect(port) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
    c.on('error', reject);
  });
}

run({
  steps: 45,
  leakStart: 0,
  setup: () => new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)),
  async step() {
    for (let i = 0; i < 3; i++) kept.push(await connect(server.address().port));
  },
}).then((r) => {
  print({ ...r, kept: kept.length });
  process.exit(0);
});
