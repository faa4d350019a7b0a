'use strict';
// bench/cli's workload: CPU and allocation, no I/O. Prints its own loop time
// (ms) as JSON on stdout.
const ROUNDS = Number(process.env.ROUNDS || 60);
const start = process.hrtime.bigint();
let keep = [];
let checksum = 0;
for (let r = 0; r < ROUNDS; r++) {
  const objs = [];
  for (let i = 0; i < 20000; i++) objs.push({ id: i, name: `item-${i}`, tags: [i & 7, i & 15], v: Math.sqrt(i + r) });
  const text = JSON.stringify(objs);
  const back = JSON.parse(text);
  checksum += back.length + text.length;
  const buf = Buffer.alloc(256 * 1024, r & 0xff);
  checksum += buf[1000];
  keep.push(back.slice(0, 200));
  if (keep.length > 20) keep = keep.slice(-10);
}
const ms = Number(process.hrtime.bigint() - start) / 1e6;
// The app's CPU time to here (the sampler's share included when under run).
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, checksum })}\n`);
