'use strict';

// V8 heap snapshots: taken in process and streamed chunk by chunk into the
// native parser (src/core/heapsnap_parse.c), or read from .heapsnapshot files
// in blocks; summaries and diffs in memwatch's shape; snapshots written on
// demand, on a signal, or near the heap limit. Guide: docs/heap-snapshots.md.

const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');
const { threadId, isMainThread } = require('node:worker_threads');
const binding = require('./binding.js');
const {
  validateOptions,
  validateBoolean,
  validatePositiveInteger,
  typeError,
  rangeError,
  codedError,
  describe,
} = require('./validate.js');

const FILE_BLOCK = 4 * 1024 * 1024;

// ---- memwatch's formatting (util.cc niceSize), exactly ----

// C's round(): halves away from zero.
function cRound(x) {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

// A double as C++ `ostream << double` prints it: %g with 6 significant digits.
function formatDouble(x) {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x < 0 ? '-inf' : 'inf';
  const [mantissa, expText] = x.toExponential(5).split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    const a = Math.abs(exp);
    return `${m}e${exp < 0 ? '-' : '+'}${a < 10 ? `0${a}` : a}`;
  }
  const fixed = x.toFixed(5 - exp);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/** memwatch's size string: "8.65 mb", "12.5 kb", "512 bytes". */
function niceSize(bytes) {
  if (Math.abs(bytes) > 1024 * 1024) return `${formatDouble(cRound(bytes / ((1024 * 1024) / 100)) / 100)} mb`;
  if (Math.abs(bytes) > 1024) return `${formatDouble(cRound(bytes / (1024 / 100)) / 100)} kb`;
  return `${bytes} bytes`;
}

// ---- parsing ----

function freeQuietly(handle) {
  if (handle !== undefined && handle !== null) binding.hsFree(handle);
}

// A parse error with the file named; the offset stays a property.
function fileError(err, file) {
  if (!err || err.code !== 'ERR_NMW_HEAP_SNAPSHOT') return err;
  const e = codedError(`${file}: ${err.message}`, err.code);
  e.offset = err.offset;
  e.reason = err.reason;
  e.path = file;
  return e;
}

function parserFor(opts) {
  return binding.hsParserNew(Boolean(opts.keepAllNames), opts.maxNodes || 0, opts.maxStringBytes || 0);
}

/**
 * Parses a file read in blocks; resolves to a graph handle. Two buffers: the
 * next block is read (on the thread pool) while this one is parsed, so the
 * kernel's copy of the file overlaps the parse instead of adding to it.
 */
async function parseFile(file, opts = {}) {
  const handle = await fs.promises.open(file, 'r');
  const parser = parserFor(opts);
  let cur = Buffer.allocUnsafe(FILE_BLOCK);
  let next = Buffer.allocUnsafe(FILE_BLOCK);
  let pos = 0;
  let pending = null;
  try {
    pending = handle.read(cur, 0, FILE_BLOCK, pos);
    for (;;) {
      const { bytesRead } = await pending;
      pending = null;
      if (bytesRead === 0) break;
      pos += bytesRead;
      pending = handle.read(next, 0, FILE_BLOCK, pos);
      binding.hsFeed(parser, cur, bytesRead);
      [cur, next] = [next, cur];
    }
    return binding.hsFinish(parser);
  } catch (err) {
    freeQuietly(parser);
    throw fileError(err, file);
  } finally {
    if (pending !== null) await pending.catch(() => {});
    await handle.close();
  }
}

/** The same, synchronously (used where memwatch's API is synchronous). */
function parseFileSync(file, opts = {}) {
  const fd = fs.openSync(file, 'r');
  const parser = parserFor(opts);
  const buf = Buffer.allocUnsafe(FILE_BLOCK);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, FILE_BLOCK, null);
      if (n === 0) break;
      binding.hsFeed(parser, buf, n);
    }
    return binding.hsFinish(parser);
  } catch (err) {
    freeQuietly(parser);
    throw fileError(err, file);
  } finally {
    fs.closeSync(fd);
  }
}

let inspectorModule;
function inspector() {
  if (inspectorModule === undefined) {
    try {
      inspectorModule = process.features.inspector ? require('node:inspector') : null;
    } catch {
      inspectorModule = null;
    }
  }
  return inspectorModule;
}

// One inspector session per thread, connected for good: disconnecting a
// session disables its HeapProfiler agent, and V8 then clears the object ids
// that make snapshots of one isolate comparable (measured: ids restart, a
// diff across two sessions pairs unrelated objects). Shared with sampling.js.
let shared = null;
let currentChunk = null; // the chunk consumer of the snapshot being taken

function inspectorSession() {
  if (shared !== null) return shared;
  const insp = inspector();
  if (insp === null) return null;
  const session = new insp.Session();
  session.connect();
  session.on('HeapProfiler.addHeapSnapshotChunk', (message) => {
    if (currentChunk !== null) currentChunk(message.params.chunk);
  });
  shared = session;
  return session;
}

/** Posts a command on the shared session; the in-process session answers synchronously. */
function inspectorPost(method, params) {
  const session = inspectorSession();
  if (session === null) throw codedError(`${method} needs a Node built with the inspector`, 'ERR_NMW_UNSUPPORTED');
  let done = false;
  let error = null;
  let result;
  session.post(method, params, (err, res) => {
    done = true;
    error = err;
    result = res;
  });
  if (!done) throw codedError(`inspector: ${method} did not answer synchronously`, 'ERR_NMW_INSPECTOR');
  if (error) throw codedError(`inspector: ${method}: ${error.message}`, 'ERR_NMW_INSPECTOR');
  return result;
}

// Node 20 answers HeapProfiler.takeHeapSnapshot (and collectGarbage) within
// post(); Node 22 and later defer both to a task without a JS stack (measured:
// v22.23.5 answers after post() returns), so a synchronous API cannot wait for
// them there. Probed once per thread with collectGarbage, which V8 defers the
// same way and which costs one GC, not a snapshot that would arrive later.
let snapshotsSync;
function inspectorSnapshotsAreSync() {
  if (snapshotsSync !== undefined) return snapshotsSync;
  const session = inspectorSession();
  if (session === null) return (snapshotsSync = false);
  let done = false;
  session.post('HeapProfiler.collectGarbage', {}, () => {
    done = true;
  });
  return (snapshotsSync = done);
}

/**
 * Takes a heap snapshot of this isolate and parses it. First choice, on every
 * Node: v8.writeHeapSnapshot() to a temporary file, read back in blocks and
 * deleted (V8 serializes straight to the file; measured on Node 20 about 0.5 s
 * of CPU a snapshot of 2 M nodes cheaper than the inspector's chunks, which
 * V8 escapes into protocol messages that Node parses again, see
 * docs/benchmarks.md). If the file cannot be written (no space, no
 * temporary directory) and the inspector answers synchronously (Node 20), the
 * inspector's HeapProfiler.takeHeapSnapshot streams chunks of about 100 KB
 * into the parser instead. Either way the JSON text is never held whole.
 */
function takeGraph(opts = {}) {
  const viaFile = takeGraphViaFile(opts);
  if (viaFile !== null) return viaFile;
  if (!inspectorSnapshotsAreSync()) throw codedError(`could not write a heap snapshot into ${require('node:os').tmpdir()}`, 'ERR_NMW_SNAPSHOT_WRITE');
  return takeGraphViaInspector(opts);
}

function takeGraphViaInspector(opts) {
  if (currentChunk !== null) throw codedError('a heap snapshot is already being taken in this thread', 'ERR_NMW_HEAP_SNAPSHOT_BUSY');
  const parser = parserFor(opts);
  let failure = null;
  currentChunk = (chunk) => {
    if (failure !== null) return;
    try {
      binding.hsFeed(parser, chunk);
    } catch (err) {
      failure = err;
    }
  };
  try {
    inspectorPost('HeapProfiler.takeHeapSnapshot', { reportProgress: false, captureNumericValue: true });
  } catch (err) {
    if (failure === null) failure = err;
  } finally {
    currentChunk = null;
  }
  if (failure !== null) {
    freeQuietly(parser);
    throw failure;
  }
  return binding.hsFinish(parser);
}

// takeGraph's snapshots expose numeric values: V8 then needs about 0.7x the
// peak memory to write the snapshot (1,295 -> 920 MiB on bench/heapdiff's
// heap, docs/benchmarks.md) and adds only leaves, "smi number" nodes and their
// "value" strings, which the digest leaves out (heapsnap_graph.c
// numeric_extra), so the counts are a default snapshot's.
const NUMERIC_VALUES = Object.freeze({ exposeNumericValues: true });

// The graph through a temporary file, or null when the file could not be written.
function takeGraphViaFile(opts) {
  const os = require('node:os');
  const file = path.join(os.tmpdir(), `native-memwatch-${process.pid}-${threadId}-${Date.now()}.heapsnapshot`);
  try {
    try {
      v8.writeHeapSnapshot(file, NUMERIC_VALUES);
    } catch {
      return null;
    }
    // Node returns the name even when the file could not be opened.
    let size = 0;
    try {
      size = fs.statSync(file).size;
    } catch {
      return null;
    }
    if (size === 0) return null;
    try {
      return parseFileSync(file, opts);
    } catch (err) {
      // A file cut short (the disk filled up while V8 wrote it): as unwritten.
      if (err && err.code === 'ERR_NMW_HEAP_SNAPSHOT' && /unexpected end of input/.test(err.message)) return null;
      throw err;
    }
  } finally {
    fs.rmSync(file, { force: true });
  }
}

// ---- results in memwatch's shape ----

function sideOf(info, time) {
  return { nodes: info.nodes, time, size_bytes: info.size_bytes, size: niceSize(info.size_bytes) };
}

// Steps of a retainer path as text: "(root) -> .global -> Foo @12".
function pathText(steps) {
  return steps
    .map((s, i) => {
      const name = s.type === 'object' ? s.what : s.type === 'closure' ? `${s.name || '(anonymous)'}()` : s.name;
      const label = `${i === 0 ? '(root)' : name || `(${s.type})`} @${s.id}`;
      if (i === 0) return label;
      const edge =
        s.edgeType === undefined
          ? '...'
          : s.edgeType === 'element' || s.edgeType === 'hidden'
            ? `[${s.edge}]`
            : s.edgeType === 'property'
              ? `.${s.edge}`
              : `${s.edgeType}:${s.edge}`;
      return `${edge} -> ${label}`;
    })
    .join(' ');
}

/**
 * The memwatch diff of two digests: {before, after, change}. With retainers,
 * the `top` classes that grew most carry `retainers` (one shortest path from
 * the root per sampled new node) and every row with allocations `sampleIds`.
 */
function diffResult(beforeDigest, afterDigest, times, retainers, afterGraph, skipName) {
  const before = binding.hsDigestInfo(beforeDigest);
  const after = binding.hsDigestInfo(afterDigest);
  const raw = binding.hsDiff(beforeDigest, afterDigest, retainers ? retainers.samples : 0);
  const details = raw.details.map((d) => {
    const row = { what: d.what, size_bytes: d.size_bytes, size: niceSize(d.size_bytes), '+': d['+'], '-': d['-'] };
    if (retainers) row.sampleIds = d.sampleIds;
    return row;
  });
  if (retainers && afterGraph !== undefined) {
    const top = details
      .filter((d) => d.size_bytes > 0 && d.sampleIds.length > 0)
      .sort((a, b) => b.size_bytes - a.size_bytes || b['+'] - a['+'] || (a.what < b.what ? -1 : 1))
      .slice(0, retainers.top);
    const ids = top.flatMap((d) => d.sampleIds);
    const paths = ids.length ? binding.hsPaths(afterGraph, ids, skipName) : [];
    let k = 0;
    for (const d of top) {
      d.retainers = d.sampleIds.map((id) => {
        const steps = paths[k++];
        return { id, path: steps, text: steps === null ? null : pathText(steps) };
      });
    }
  }
  return {
    before: sideOf(before, times[0]),
    after: sideOf(after, times[1]),
    change: {
      size_bytes: raw.size_bytes,
      size: niceSize(raw.size_bytes),
      freed_nodes: raw.freed_nodes,
      allocated_nodes: raw.allocated_nodes,
      details,
    },
  };
}

function validateRetainers(value, name) {
  if (value === undefined || value === false) return null;
  if (value === true) return { top: 5, samples: 3 };
  const opts = validateOptions(value, name);
  for (const key of Object.keys(opts)) {
    if (key !== 'top' && key !== 'samples') throw typeError(`${name}.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
  }
  return {
    top: opts.top === undefined ? 5 : validatePositiveInteger(opts.top, `${name}.top`),
    samples: opts.samples === undefined ? 3 : Math.min(validatePositiveInteger(opts.samples, `${name}.samples`), 1000),
  };
}

function validatePath(value, name) {
  if (typeof value !== 'string' || value.length === 0) {
    throw typeError(`${name} must be a non-empty string (received ${describe(value)})`);
  }
  return value;
}

function summaryOf(digest, time) {
  const info = binding.hsDigestInfo(digest);
  const details = info.classes
    .map((c) => ({ what: c.what, count: c.count, size_bytes: c.size_bytes, size: niceSize(c.size_bytes) }))
    .sort((a, b) => b.size_bytes - a.size_bytes || b.count - a.count || (a.what < b.what ? -1 : a.what > b.what ? 1 : 0));
  return {
    nodes: info.nodes,
    time,
    size_bytes: info.size_bytes,
    size: niceSize(info.size_bytes),
    reachable_nodes: info.reachable,
    details,
  };
}

/**
 * Summarizes a .heapsnapshot file: {nodes, time (the file's mtime), size_bytes,
 * size, reachable_nodes, details: [{what, count, size_bytes, size}]} with
 * details largest first. Any size, including files over V8's string limit.
 */
async function summarizeHeapSnapshot(file) {
  validatePath(file, 'path');
  const stat = await fs.promises.stat(file);
  const graph = await parseFile(file);
  let digest;
  try {
    digest = binding.hsDigest(graph, null, true); // counts only: no per-node columns, no sort
  } finally {
    binding.hsFree(graph);
  }
  try {
    return summaryOf(digest, stat.mtime);
  } finally {
    binding.hsFree(digest);
  }
}

/**
 * Diffs two .heapsnapshot files of one process (node ids are stable within an
 * isolate) in HeapDiff's shape. options.retainers as for HeapDiff#end.
 */
async function diffHeapSnapshots(fileA, fileB, options) {
  validatePath(fileA, 'pathA');
  validatePath(fileB, 'pathB');
  const opts = validateOptions(options, 'options');
  for (const key of Object.keys(opts)) {
    if (key !== 'retainers') throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
  }
  const retainers = validateRetainers(opts.retainers, 'options.retainers');
  const [statA, statB] = await Promise.all([fs.promises.stat(fileA), fs.promises.stat(fileB)]);
  let graphA;
  let digestA;
  let graphB;
  let digestB;
  try {
    graphA = await parseFile(fileA);
    digestA = binding.hsDigest(graphA, null);
    binding.hsFree(graphA);
    graphA = undefined;
    graphB = await parseFile(fileB, { keepAllNames: retainers !== null });
    digestB = binding.hsDigest(graphB, null);
    return diffResult(digestA, digestB, [statA.mtime, statB.mtime], retainers, graphB, null);
  } finally {
    freeQuietly(graphA);
    freeQuietly(graphB);
    freeQuietly(digestA);
    freeQuietly(digestB);
  }
}

// ---- snapshots on demand ----

let sequence = 0;

function stamp() {
  const d = new Date();
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}.${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** Heap.<yyyymmdd>.<hhmmss>.<ms>.<pid>.<threadId>.<seq>.heapsnapshot */
function snapshotFileName() {
  sequence += 1;
  return `Heap.${stamp()}.${process.pid}.${threadId}.${String(sequence).padStart(3, '0')}.heapsnapshot`;
}

function ensureDir(dir, name) {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw codedError(`${name}: cannot create directory ${dir}: ${err.message}`, 'ERR_NMW_SNAPSHOT_DIR');
  }
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw codedError(`${name}: ${dir} is not a directory`, 'ERR_NMW_SNAPSHOT_DIR');
  return dir;
}

function writeTo(file) {
  let written;
  try {
    written = v8.writeHeapSnapshot(file);
  } catch (err) {
    throw codedError(`could not write the heap snapshot ${file}: ${err.message}`, 'ERR_NMW_SNAPSHOT_WRITE');
  }
  // Node returns the name even when the file could not be opened.
  if (typeof written !== 'string' || !fs.existsSync(written) || fs.statSync(written).size === 0) {
    throw codedError(`could not write the heap snapshot ${file}`, 'ERR_NMW_SNAPSHOT_WRITE');
  }
  return path.resolve(written);
}

/**
 * Writes a heap snapshot and returns its absolute path. path: a file name, or
 * a directory (existing, or ending in a separator) to write a generated name
 * into; default: a generated name in the current directory. Missing
 * directories are created.
 */
function writeHeapSnapshot(file) {
  let target;
  if (file === undefined) {
    target = path.resolve(snapshotFileName());
  } else {
    validatePath(file, 'path');
    const isDir = /[\\/]$/.test(file) || (fs.existsSync(file) && fs.statSync(file).isDirectory());
    if (isDir) {
      target = path.join(ensureDir(path.resolve(file), 'path'), snapshotFileName());
    } else {
      ensureDir(path.dirname(path.resolve(file)), 'path');
      target = path.resolve(file);
    }
  }
  return writeTo(target);
}

const SIGNALS = new Set(['SIGUSR1', 'SIGUSR2', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'SIGWINCH', 'SIGPIPE']);
const installed = new Map(); // signal -> listener

/**
 * On each `signal`, writes a heap snapshot into options.dir (default: the
 * current directory; created now). options.onSnapshot(err, path) is called
 * after each attempt; without it, a failure is emitted as a process warning.
 * Returns a function that removes the handler. SIGUSR1 is the inspector's:
 * refused.
 */
function heapSnapshotOnSignal(signal = 'SIGUSR2', options) {
  if (typeof signal !== 'string') throw typeError(`signal must be a string (received ${describe(signal)})`);
  if (!SIGNALS.has(signal) || signal === 'SIGUSR1') {
    throw rangeError(`signal must be one of ${[...SIGNALS].filter((s) => s !== 'SIGUSR1').join(', ')} (received ${JSON.stringify(signal)})`, 'ERR_UNKNOWN_SIGNAL');
  }
  const opts = validateOptions(options, 'options');
  for (const key of Object.keys(opts)) {
    if (key !== 'dir' && key !== 'onSnapshot') throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
  }
  const dir = ensureDir(path.resolve(opts.dir === undefined ? '.' : validatePath(opts.dir, 'options.dir')), 'options.dir');
  if (opts.onSnapshot !== undefined && typeof opts.onSnapshot !== 'function') {
    throw typeError(`options.onSnapshot must be a function (received ${describe(opts.onSnapshot)})`);
  }
  if (installed.has(signal)) throw codedError(`a heap snapshot handler is already installed for ${signal}`, 'ERR_NMW_SIGNAL_IN_USE');
  const listener = () => {
    let file = null;
    let error = null;
    try {
      file = writeTo(path.join(ensureDir(dir, 'options.dir'), snapshotFileName()));
    } catch (err) {
      error = err;
    }
    if (opts.onSnapshot) opts.onSnapshot(error, file);
    else if (error) process.emitWarning(error);
  };
  process.on(signal, listener);
  installed.set(signal, listener);
  return function remove() {
    if (installed.get(signal) !== listener) return false;
    process.removeListener(signal, listener);
    installed.delete(signal);
    return true;
  };
}

// The directory Node writes near-limit snapshots into: --diagnostic-dir, else
// the current directory at the time of writing.
function diagnosticDir() {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS || '').split(/\s+/)];
  for (let i = 0; i < args.length; i++) {
    const m = /^--diagnostic-dir(?:=(.*))?$/.exec(args[i]);
    if (m) return path.resolve(m[1] !== undefined ? m[1] : args[i + 1] || '.');
  }
  return null;
}

let nearLimit = null;

/**
 * Asks V8 for up to options.count (default 1) heap snapshots when the heap
 * nears its limit, through v8.setHeapSnapshotNearHeapLimit: no command-line
 * flag needed. Node names them Heap.<date>.<time>.<pid>.<tid>.<seq>.heapsnapshot
 * and writes them into --diagnostic-dir, else the current directory: options.dir,
 * when given, must be that directory (Node cannot be told another one at run
 * time); it is created. Returns {dir, count}. Once per process (Node's rule):
 * a second call with other options throws.
 */
function heapSnapshotNearLimit(options) {
  const opts = validateOptions(options, 'options');
  for (const key of Object.keys(opts)) {
    if (key !== 'dir' && key !== 'count') throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
  }
  const count = opts.count === undefined ? 1 : validatePositiveInteger(opts.count, 'options.count');
  if (count > 1000) throw rangeError('options.count must be at most 1000');
  const current = diagnosticDir() || process.cwd();
  const dir = opts.dir === undefined ? current : path.resolve(validatePath(opts.dir, 'options.dir'));
  if (dir !== current) {
    const err = codedError(
      `options.dir: Node writes near-heap-limit snapshots into ${current} (--diagnostic-dir, else the current directory); start node with --diagnostic-dir=${dir} to use ${dir}`,
      'ERR_NMW_SNAPSHOT_DIR',
    );
    throw err;
  }
  ensureDir(dir, 'options.dir');
  if (nearLimit !== null) {
    if (nearLimit.count === count && nearLimit.dir === dir) return { ...nearLimit };
    throw codedError(`heapSnapshotNearLimit was already set up (count ${nearLimit.count}); V8 takes it once per process`, 'ERR_NMW_NEAR_LIMIT_SET');
  }
  if (typeof v8.setHeapSnapshotNearHeapLimit !== 'function') {
    throw codedError('this Node has no v8.setHeapSnapshotNearHeapLimit (Node >= 18.10)', 'ERR_NMW_UNSUPPORTED');
  }
  // (=0 means off: Node 24's test runner passes it to every test process.)
  if (process.execArgv.some((a) => /^--heapsnapshot-near-heap-limit(=|$)/.test(a) && !/=0+$/.test(a))) {
    throw codedError('--heapsnapshot-near-heap-limit is set on the command line; it takes precedence', 'ERR_NMW_NEAR_LIMIT_SET');
  }
  v8.setHeapSnapshotNearHeapLimit(count);
  nearLimit = { dir, count, thread: isMainThread ? 'main' : threadId };
  return { ...nearLimit };
}

module.exports = {
  niceSize,
  formatDouble,
  parseFile,
  parseFileSync,
  takeGraph,
  inspectorPost,
  diffResult,
  validateRetainers,
  summarizeHeapSnapshot,
  diffHeapSnapshots,
  writeHeapSnapshot,
  heapSnapshotOnSignal,
  heapSnapshotNearLimit,
  snapshotFileName,
  validateBoolean,
};
