'use strict';
// The corpus: each scenario's expected verdict. leak: the kind (and tag) the
// detector must report, within `within` virtual seconds of leakStart; null: no
// 'leak' event at all. Run by test/js/leak-corpus.test.js and bench/events.
module.exports = [
  { name: 'heap-1k-per-iteration', leak: { kind: 'heap', tag: null }, leakStart: 0 },
  { name: 'heap-late-leak', leak: { kind: 'heap', tag: null }, leakStart: 60 },
  { name: 'buffers-retained', leak: { kind: 'external', tag: null }, leakStart: 0 },
  { name: 'native-tag-leak', leak: { kind: 'native', tag: 'corpus.leaky' }, leakStart: 0 },
  { name: 'finalizers-never-run', leak: { kind: 'finalizers', tag: 'corpus.sessions' }, leakStart: 0 },
  { name: 'handles-piling', leak: { kind: 'handles', tag: 'Timeout' }, leakStart: 0 },
  { name: 'handles-late', leak: { kind: 'handles', tag: 'Timeout' }, leakStart: 40 },
  { name: 'heap-leak-slow', leak: { kind: 'heap', tag: null }, leakStart: 0 },
  { name: 'native-late-leak', leak: { kind: 'native', tag: 'corpus.late' }, leakStart: 30 },
  { name: 'finalizers-late', leak: { kind: 'finalizers', tag: 'corpus.wraps' }, leakStart: 30 },
  { name: 'worker-heap-leak', leak: { kind: 'heap', tag: null, worker: true }, leakStart: 0 },
  { name: 'sockets-piling', leak: { kind: 'handles', tag: 'TCPSocketWrap' }, leakStart: 0 },
  { name: 'steady-churn', leak: null },
  { name: 'warmup-plateau', leak: null },
  { name: 'bounded-cache', leak: null },
  { name: 'sawtooth', leak: null },
  { name: 'one-big-allocation', leak: null },
  { name: 'periodic-burst', leak: null },
  { name: 'startup-growth', leak: null },
  { name: 'buffer-churn', leak: null },
  { name: 'native-churn', leak: null },
  { name: 'finalizers-churn', leak: null },
  { name: 'handles-steady', leak: null },
  { name: 'sockets-steady', leak: null },
];
