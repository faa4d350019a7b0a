'use strict';

// native-memwatch/testing: the toolkit's verdicts, exact numbers and messages.
// Messages are compared as whole strings, as users see them.

const test = require('node:test');
const assert = require('node:assert');
const net = require('node:net');
const mw = require('../..');
const testing = require('native-memwatch/testing');
const { loadFixture } = require('../helpers/build.js');
const { freshTag, siteLine } = require('../helpers/common.js');

const { assertNoLeak, limitMemory, limitLeaks, allocsPerRun, outstanding, checkEachTest, matchers, parseSize } = testing;
// limitMemory's peaks and the matchers: testing-peaks.test.js.

// The consumer fixture only: a second addon that imports native-memwatch in the
// same thread aborts the process (see testing-finalizers.test.js).
let c;
test.before(() => {
  c = loadFixture();
});

// Call sites as the fixtures print them (__FILE__ from their build directory).
const at = (name) => `../src/work.c:${siteLine(name)} in ${FN[name]}()`;
const FN = { leak: 'work_leak', alloc: 'work_alloc', allocMany: 'work_alloc_many', poolAlloc: 'work_pool_alloc_many' };

const HEADER = (rounds, iterations, warmup, who = 'assertNoLeak') =>
  `${who}: memory kept growing over ${rounds} rounds of ${iterations} iterations ` +
  `(after ${warmup} warm-up iterations; mw.settle() after each round):`;

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

// ---- sizes ----

test('limits: numbers are bytes, MB is 10^6-based, MiB 2^20-based', () => {
  assert.strictEqual(parseSize(0), 0);
  assert.strictEqual(parseSize(4096), 4096);
  assert.strictEqual(parseSize('24 MB'), 24_000_000);
  assert.strictEqual(parseSize('24 MiB'), 25_165_824);
  assert.strictEqual(parseSize('24MiB'), 25_165_824);
  assert.strictEqual(parseSize('1.5 KiB'), 1536);
  assert.strictEqual(parseSize('2 kB'), 2000);
  assert.strictEqual(parseSize('2 KB'), 2000);
  assert.strictEqual(parseSize('512'), 512);
  assert.strictEqual(parseSize('512 B'), 512);
  assert.strictEqual(parseSize('1.1 MB'), 1_100_000);
  assert.strictEqual(parseSize('1 GiB'), 2 ** 30);
  assert.strictEqual(parseSize('1 TB'), 1e12);
});

test('limits: bad values throw TypeError / RangeError naming the argument', async () => {
  assert.throws(() => parseSize('1 mb'), {
    name: 'RangeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: 'value has an unknown unit "mb" (use B, kB, MB, GB, TB: powers of 10; KiB, MiB, GiB, TiB: powers of 2)',
  });
  assert.throws(() => parseSize('0.5 B'), {
    name: 'RangeError',
    message: 'value must be a whole number of bytes (received "0.5 B" = 0.5 bytes)',
  });
  assert.throws(() => parseSize(-1), {
    name: 'RangeError',
    message: "value must be a non-negative integer of bytes or a size string such as '64 KiB' or '24 MB' (received -1)",
  });
  assert.throws(() => parseSize('lots'), { name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => parseSize(1.5), { name: 'RangeError' });
  assert.throws(() => parseSize(true), {
    name: 'TypeError',
    message: "value must be a non-negative integer of bytes or a size string such as '64 KiB' or '24 MB' (received type boolean (true))",
  });
  await assert.rejects(limitMemory({}, () => {}), { name: 'TypeError', message: /^limit must be/ });
  await assert.rejects(limitLeaks('3 parsecs', () => {}), { name: 'RangeError', message: /^limit has an unknown unit "parsecs"/ });
  await assert.rejects(assertNoLeak(() => {}, { tolerance: -5 }), { name: 'RangeError', message: /^options\.tolerance must be/ });
});

// ---- argument validation ----

test('every function checks its arguments and names them', async () => {
  const T = (message) => ({ name: 'TypeError', message });
  const R = (message) => ({ name: 'RangeError', message });
  await assert.rejects(assertNoLeak(5), T('fn must be a function (received type number (5))'));
  await assert.rejects(assertNoLeak(() => {}, 'x'), T('options must be an object (received type string ("x"))'));
  await assert.rejects(assertNoLeak(() => {}, { iterations: 0 }), R('options.iterations must be a positive integer (received 0)'));
  await assert.rejects(assertNoLeak(() => {}, { rounds: '3' }), T('options.rounds must be a positive integer (received type string ("3"))'));
  await assert.rejects(assertNoLeak(() => {}, { warmup: -1 }), R('options.warmup must be a non-negative integer (received -1)'));
  await assert.rejects(assertNoLeak(() => {}, { signals: [] }), R('options.signals must name at least one signal (received [])'));
  await assert.rejects(
    assertNoLeak(() => {}, { signals: ['native', 'handles'] }),
    R(`options.signals[1] must be one of 'native', 'finalizers', 'heap' (received "handles")`),
  );
  await assert.rejects(assertNoLeak(() => {}, { tags: 'a' }), T('options.tags must be an array of tag names (received type string ("a"))'));
  await assert.rejects(assertNoLeak(() => {}, { exclude: ['bad name'] }), { name: 'RangeError', message: /^options\.exclude\[0\] must contain only/ });
  await assert.rejects(assertNoLeak(() => {}, { iteration: 5 }), T('options.iteration is not a supported option'));
  await assert.rejects(limitMemory('1 MiB', null), T('fn must be a function (received null)'));
  await assert.rejects(limitMemory('1 MiB', () => {}, { tag: 7 }), T('options.tag must be a string (received type number (7))'));
  await assert.rejects(limitMemory('1 MiB', () => {}, { perSite: true }), T('options.perSite is not a supported option'));
  await assert.rejects(limitLeaks(0, () => {}, { perSite: 1 }), T('options.perSite must be a boolean (received type number (1))'));
  await assert.rejects(allocsPerRun(0, () => {}), R('n must be a positive integer (received 0)'));
  await assert.rejects(allocsPerRun(10, 'fn'), T('fn must be a function (received type string ("fn"))'));
  assert.throws(() => outstanding('no-such-tag-here'), { name: 'RangeError', code: 'ERR_NMW_UNKNOWN_TAG' });
  assert.throws(() => outstanding({}), { name: 'TypeError', message: /^tag must be a tag name/ });
  assert.throws(() => checkEachTest(null), T('hooks must be a function (received null)'));
  assert.throws(() => checkEachTest({ beforeEach() {} }), T('hooks.afterEach must be a function (received undefined)'));
  assert.throws(
    () => checkEachTest({ beforeEach() {}, afterEach() {} }, { signals: ['heap'] }),
    R(`options.signals[0] must be one of 'native', 'finalizers', 'handles' (received "heap")`),
  );
  assert.throws(() => checkEachTest({ beforeEach() {}, afterEach() {} }, { ignoreHandles: [1] }), T('options.ignoreHandles[0] must be a string (received type number (1))'));
  await assert.rejects(matchers.toLeak(42), T('expect(received).toLeak(): received must be a function (received type number (42))'));
  await assert.rejects(matchers.toAllocateAtMost(() => {}, '1 XB'), { name: 'RangeError', message: /^limit has an unknown unit "XB"/ });
});

// ---- errors pass through ----

test('what fn throws or rejects with passes through untouched', async () => {
  const err = new Error('boom');
  const thrower = () => {
    throw err;
  };
  const rejecter = async () => {
    throw err;
  };
  for (const fn of [thrower, rejecter]) {
    assert.strictEqual(await rejection(assertNoLeak(fn)), err);
    assert.strictEqual(await rejection(assertNoLeak(fn, { signals: ['heap'] })), err);
    assert.strictEqual(await rejection(limitMemory(0, fn)), err);
    assert.strictEqual(await rejection(limitMemory(0, fn, { tag: 'untagged' })), err);
    assert.strictEqual(await rejection(limitLeaks(0, fn)), err);
    assert.strictEqual(await rejection(allocsPerRun(3, fn)), err);
    assert.strictEqual(await rejection(matchers.toLeak(fn)), err);
    assert.strictEqual(await rejection(matchers.toAllocateAtMost(fn, '1 MiB')), err);
  }
  // A leak before the throw does not turn the error into a verdict.
  const tag = mw.tag(freshTag('throws'));
  let calls = 0;
  const leakThenThrow = () => {
    c.leak(tag, 64, 1);
    if (++calls === 150) throw err;
  };
  assert.strictEqual(await rejection(assertNoLeak(leakThenThrow)), err);
  // Not an Error at all, and a rejection with undefined.
  assert.strictEqual(await rejection(assertNoLeak(() => {
    throw 'a string'; // eslint-disable-line no-throw-literal
  })), 'a string');
  assert.strictEqual(await rejection(limitLeaks(0, () => Promise.reject(undefined))), undefined);
  // The region that limitMemory opened is closed again.
  const before = mw.stats();
  await rejection(limitMemory(0, thrower));
  assert.strictEqual(mw.stats().total.allocs, before.total.allocs);
});

// ---- no false failures ----

// Fixtures that do not leak: each returns to the same native state after each
// call once warmed up, so exact counts can never make them fail.
function nonLeaking() {
  const tag = mw.tag(freshTag('clean'));
  let cache = null;
  const pool = [];
  return {
    'steady churn': () => c.free(c.alloc(tag, 64)),
    'steady churn on the thread pool': () => c.churnAsync(tag, 48, 4),
    'a cache that fills once': () => {
      if (cache === null) cache = c.allocMany(tag, 256, 8);
      c.free(c.alloc(tag, 16));
    },
    'a pool of blocks': () => {
      const block = pool.length > 0 ? pool.pop() : c.alloc(tag, 128);
      const extra = pool.length < 4 ? c.alloc(tag, 128) : null;
      pool.push(block);
      if (extra !== null) pool.push(extra);
    },
    'blocks freed by finalizers after GC': () => {
      c.finalizable(tag, 32);
    },
  };
}

test('assertNoLeak passes 50 times in a row on fixtures that do not leak', async () => {
  for (const [name, fn] of Object.entries(nonLeaking())) {
    for (let i = 0; i < 50; i++) {
      const report = await assertNoLeak(fn, name.includes('thread pool') ? { iterations: 20 } : undefined).catch((err) => {
        err.message = `${name}, run ${i + 1}: ${err.message}`;
        throw err;
      });
      assert.strictEqual(report.leaked, false);
    }
  }
});

test('checkEachTest passes 50 times in a row on the same fixtures', async () => {
  const hooks = fakeHooks();
  checkEachTest(hooks);
  for (const [name, fn] of Object.entries(nonLeaking())) {
    for (let i = 0; i < 10; i++) await fn(); // warm up: a cache or pool filled by the first test is that test's
    for (let i = 0; i < 50; i++) {
      await hooks.before();
      await fn();
      await fn();
      await hooks.after({ name });
    }
  }
});

// ---- what it catches, with the exact message ----

test('catches a 64-byte leak per call in the fixture addon', async () => {
  const tag = freshTag('leak64');
  const id = mw.tag(tag);
  const err = await rejection(assertNoLeak(() => c.leak(id, 64, 1)));
  assert.ok(err instanceof assert.AssertionError);
  assert.strictEqual(err.code, 'ERR_ASSERTION');
  assert.strictEqual(
    err.message,
    [
      HEADER(3, 100, 100),
      `  native memory of tag "${tag}": +19,200 bytes in 300 blocks over 3 rounds (6,400 bytes in 100 blocks per round, 64 bytes in 1 block per iteration)`,
      `    +19,200 bytes in 300 blocks at ${at('leak')}`,
    ].join('\n'),
  );
  assert.deepStrictEqual(err.details.native, [
    { tag, bytes: 19200, blocks: 300, sites: [{ file: '../src/work.c', line: siteLine('leak'), function: 'work_leak', bytes: 19200, blocks: 300 }] },
  ]);
  assert.deepStrictEqual(err.details.finalizers, []);
});

test('sizes print in the unit of the tolerance; only the leaking tag is listed', async () => {
  const tag = freshTag('leakKiB');
  const id = mw.tag(tag);
  const quiet = mw.tag(freshTag('quiet'));
  const err = await rejection(
    assertNoLeak(
      () => {
        c.leak(id, 1536, 1);
        c.free(c.alloc(quiet, 10));
      },
      { iterations: 10, rounds: 2, warmup: 1, tolerance: '1 KiB' },
    ),
  );
  assert.strictEqual(
    err.message,
    [
      'assertNoLeak: memory kept growing over 2 rounds of 10 iterations (after 1 warm-up iteration; ' +
        'mw.settle() after each round, tolerance 1 KiB (1,024 bytes; 1 KiB = 2^10 bytes) per iteration):',
      `  native memory of tag "${tag}": +30 KiB (30,720 bytes) in 20 blocks over 2 rounds (15 KiB (15,360 bytes) in 10 blocks per round, 1.5 KiB (1,536 bytes) in 1 block per iteration)`,
      `    +30 KiB (30,720 bytes) in 20 blocks at ${at('leak')}`,
    ].join('\n'),
  );
  // Within the tolerance: passes.
  await assertNoLeak(() => c.leak(id, 1000, 1), { iterations: 10, rounds: 2, tolerance: '1 KB' });
  // Excluded: passes; included alone: fails.
  await assertNoLeak(() => c.leak(id, 8, 1), { exclude: [tag], iterations: 10 });
  await assert.rejects(assertNoLeak(() => c.leak(id, 8, 1), { tags: [tag], iterations: 10 }), assert.AssertionError);
  await assertNoLeak(() => c.leak(id, 8, 1), { tags: ['untagged'], iterations: 10 });
});

test('catches a leak from the thread pool', async () => {
  const tag = freshTag('poolleak');
  const id = mw.tag(tag);
  const err = await rejection(
    assertNoLeak(async () => {
      await c.allocAsync(id, 48, 1); // the handle is dropped
    }, { iterations: 20 }),
  );
  assert.strictEqual(
    err.message,
    [
      HEADER(3, 20, 20),
      `  native memory of tag "${tag}": +2,880 bytes in 60 blocks over 3 rounds (960 bytes in 20 blocks per round, 48 bytes in 1 block per iteration)`,
      `    +2,880 bytes in 60 blocks at ${at('poolAlloc')}`,
    ].join('\n'),
  );
});

test('catches a JS-side leak with the heap signal on, and not without it', async () => {
  const held = [];
  // About 8 KB kept per iteration. With 800 B (100-element arrays) the heap
  // signal missed the leak once in a clean-clone CI run on the loaded machine:
  // what V8 gives back by itself in a round (old bytecode flushed during GCs)
  // can be as large as 100 iterations of that.
  const leakJs = () => {
    held.push({ payload: new Array(1000).fill(7) });
  };
  const err = await rejection(assertNoLeak(leakJs, { signals: ['heap'] }));
  assert.match(
    err.message,
    new RegExp(
      `^assertNoLeak: memory kept growing over 3 rounds of 100 iterations \\(after 100 warm-up iterations; mw\\.settle\\(\\) after each round\\):\n` +
        `  V8 heap \\(used_heap_size after gc\\(\\)\\): \\+[\\d,]+ bytes over (3 rounds|6 rounds, growing in [456] of them) \\([\\d,]+ bytes per round, [\\d.]+ bytes per iteration; tolerance 128 bytes per iteration, at least 16 KiB per round\\)\n` +
        `    heap spaces that grew: old_space \\+[\\d,]+ bytes.*\n` +
        (typeof mw.HeapDiff === 'function'
          ? '    constructors that grew \\(mw\\.HeapDiff over 100 more iterations\\):\n      [^\n]+'
          : '    \\(constructors that grew: not listed, this build of native-memwatch has no mw\\.HeapDiff\\)$'),
    ),
  );
  assert.ok(err.details.heap.bytes > 3 * 100 * 128);
  await assertNoLeak(leakJs); // native and finalizers only: nothing grew there
  held.length = 0;
  // The heap signal does not fail steady JS churn.
  for (let i = 0; i < 5; i++) await assertNoLeak(() => ({ payload: new Array(100).fill(7) }), { signals: ['heap', 'native'] });
});

test('the constructors that grew come from the real mw.HeapDiff: exact objects per constructor', async () => {
  // 8 KB kept per iteration: far above what the heap does by itself between
  // rounds (V8 flushing old bytecode can give back tens of KB in a GC), since
  // this test is about the constructor rows, not about the signal's threshold.
  class LeakyThing {
    constructor() {
      this.payload = new Array(1000).fill(7);
    }
  }
  const held = [];
  const err = await rejection(assertNoLeak(() => held.push(new LeakyThing()), { signals: ['heap'] }));
  const lines = err.message.split('\n');
  const at = lines.indexOf('    constructors that grew (mw.HeapDiff over 100 more iterations):');
  assert.ok(at > 0, err.message);
  // One LeakyThing per iteration, each kept: exactly +100 over the 100 iterations.
  const row = lines.slice(at + 1).find((l) => l.startsWith('      LeakyThing: '));
  assert.match(row || '', /^      LeakyThing: \+100 objects, \+[\d,]+ bytes$/, err.message);
  held.length = 0;
});

// ---- limitLeaks ----

test('limitLeaks: exact bytes still outstanding, in total and per call site', async () => {
  const tag = freshTag('leaks');
  const id = mw.tag(tag);
  const two = () => {
    c.leak(id, 64, 3);
    c.free(c.alloc(id, 4096));
    return c.allocAsync(id, 100, 2).then(() => {});
  };
  const site = (name, bytes, blocks) => ({ file: '../src/work.c', line: siteLine(name), function: FN[name], tag, bytes, blocks });
  assert.deepStrictEqual(await limitLeaks('1 KiB', two), {
    bytes: 392,
    blocks: 5,
    sites: [site('poolAlloc', 200, 2), site('leak', 192, 3)],
    limit: 1024,
  });
  assert.deepStrictEqual(await limitLeaks(0, () => c.free(c.alloc(id, 64))), { bytes: 0, blocks: 0, sites: [], limit: 0 });
  const err = await rejection(limitLeaks('0.3 kB', two));
  assert.strictEqual(
    err.message,
    [
      'limitLeaks: 0.39 kB (392 bytes) in 5 blocks of native memory still outstanding after fn and mw.settle(), above the limit of 0.3 kB (300 bytes; 1 kB = 10^3 bytes)',
      'call sites still holding memory:',
      `  - 0.2 kB (200 bytes) in 2 blocks at ${at('poolAlloc')} [tag "${tag}"]`,
      `  - 0.19 kB (192 bytes) in 3 blocks at ${at('leak')} [tag "${tag}"]`,
    ].join('\n'),
  );
  assert.strictEqual((await limitLeaks(199, two, { perSite: true, tag: 'untagged' })).bytes, 0);
  const err2 = await rejection(limitLeaks(199, two, { perSite: true }));
  assert.strictEqual(
    err2.message,
    [
      'limitLeaks: 1 call site still holds native memory above the limit of 199 bytes per call site after fn and mw.settle():',
      `  - 200 bytes in 2 blocks at ${at('poolAlloc')} [tag "${tag}"]`,
    ].join('\n'),
  );
  assert.strictEqual((await limitLeaks(200, two, { perSite: true })).bytes, 392);
});

// ---- allocsPerRun, outstanding ----

test('allocsPerRun: integer averages of blocks and bytes per call, after one warm-up', async () => {
  const id = mw.tag(freshTag('perrun'));
  assert.deepStrictEqual(await allocsPerRun(100, () => c.free(c.alloc(id, 100))), { blocks: 1, bytes: 100 });
  assert.deepStrictEqual(await allocsPerRun(10, () => c.freeMany(c.allocMany(id, 10, 5))), { blocks: 5, bytes: 50 });
  assert.deepStrictEqual(await allocsPerRun(7, () => c.churnAsync(id, 16, 3)), { blocks: 3, bytes: 48 });
  assert.deepStrictEqual(await allocsPerRun(1, () => {}), { blocks: 0, bytes: 0 });
  let odd = false;
  // 1 and 2 blocks in turn (the warm-up takes the first): 15 blocks, 150 bytes in 10 calls.
  const alternating = () => {
    odd = !odd;
    c.freeMany(c.allocMany(id, 10, odd ? 1 : 2));
  };
  assert.deepStrictEqual(await allocsPerRun(10, alternating), { blocks: 1, bytes: 15 });
  let calls = 0;
  await allocsPerRun(5, () => {
    calls += 1;
  });
  assert.strictEqual(calls, 6);
});

test('outstanding: bytes and blocks now, of a tag or of all', () => {
  const tag = freshTag('out');
  const id = mw.tag(tag);
  assert.deepStrictEqual(outstanding(tag), { bytes: 0, blocks: 0 });
  const total = outstanding();
  const h = c.allocMany(id, 24, 3);
  assert.deepStrictEqual(outstanding(tag), { bytes: 72, blocks: 3 });
  assert.deepStrictEqual(outstanding(id), { bytes: 72, blocks: 3 });
  assert.deepStrictEqual(outstanding(), { bytes: total.bytes + 72, blocks: total.blocks + 3 });
  c.freeMany(h);
  assert.deepStrictEqual(outstanding(tag), { bytes: 0, blocks: 0 });
});

// ---- checkEachTest ----

function fakeHooks() {
  const hooks = {
    before: null,
    after: null,
    beforeEach(fn) {
      assert.strictEqual(fn.length, 0); // Mocha and Jest would pass a done callback otherwise
      hooks.before = fn;
    },
    afterEach(fn) {
      assert.strictEqual(fn.length, 0);
      hooks.after = (ctx) => fn.call(undefined, ctx);
    },
  };
  return hooks;
}

test('checkEachTest: a test that leaves native memory fails with the message', async () => {
  const tag = freshTag('each');
  const id = mw.tag(tag);
  const hooks = fakeHooks();
  checkEachTest(hooks, { signals: ['native', 'finalizers'] });
  await hooks.before();
  c.free(c.alloc(id, 10));
  await hooks.after({ name: 'clean' });
  await hooks.before();
  c.leak(id, 64, 2);
  const err = await rejection(hooks.after({ name: 'leaky test' }));
  assert.ok(err instanceof assert.AssertionError);
  assert.strictEqual(
    err.message,
    [
      'checkEachTest: test "leaky test" left memory outstanding after it ended and mw.settle() ran:',
      `  native memory of tag "${tag}": +128 bytes in 2 blocks`,
      `    +128 bytes in 2 blocks at ${at('leak')}`,
    ].join('\n'),
  );
  // Vitest's context names the test by task.name; without a name: "a test".
  await hooks.before();
  c.leak(id, 1, 1);
  assert.match((await rejection(hooks.after({ task: { name: 'vitest name' } }))).message, /^checkEachTest: test "vitest name" left/);
  await hooks.before();
  c.leak(id, 1, 1);
  assert.match((await rejection(hooks.after(undefined))).message, /^checkEachTest: a test left/);
  // The tolerance and tag filters.
  const lenient = fakeHooks();
  checkEachTest(lenient, { tolerance: '1 KiB', signals: ['native'] });
  await lenient.before();
  c.leak(id, 1024, 1);
  await lenient.after({ name: 'within' });
  await lenient.before();
  c.leak(id, 1025, 1);
  assert.strictEqual(
    (await rejection(lenient.after({ name: 'over' }))).message,
    [
      'checkEachTest: test "over" left memory outstanding after it ended and mw.settle() ran:',
      `  native memory of tag "${tag}": +1 KiB (1,025 bytes) in 1 block`,
      `    +1 KiB (1,025 bytes) in 1 block at ${at('leak')}`,
    ].join('\n'),
  );
  const others = fakeHooks();
  checkEachTest(others, { exclude: [tag] });
  await others.before();
  c.leak(id, 64, 1);
  await others.after({ name: 'excluded' });
});

test('checkEachTest: a server left listening fails the test (handles)', async () => {
  const hooks = fakeHooks();
  checkEachTest(hooks, { signals: ['handles'] });
  await hooks.before();
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const err = await rejection(hooks.after({ name: 'server' }));
  await new Promise((resolve) => server.close(resolve));
  assert.strictEqual(
    err.message,
    'checkEachTest: test "server" left memory outstanding after it ended and mw.settle() ran:\n' +
      '  active handles (process.getActiveResourcesInfo()): +1 TCPServerWrap',
  );
  await hooks.before();
  await hooks.after({ name: 'closed' });
});

