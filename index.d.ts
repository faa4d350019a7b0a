// Type definitions for native-memwatch. Reference: docs/api.md.

/** Counters of a tag, or of all tags together. Bytes are bytes asked for; blocks are allocations. */
export interface Counters {
  /** Bytes currently allocated (bytesAllocated - bytesFreed). */
  currBytes: number;
  /** Blocks currently allocated (allocs - frees). */
  currBlocks: number;
  /** Highest currBytes since the last resetPeak(). */
  peakBytes: number;
  /** Highest currBlocks since the last resetPeak(). */
  peakBlocks: number;
  /** Blocks allocated (malloc, calloc, strdup, aligned_alloc, track). */
  allocs: number;
  /** Blocks freed (free, untrack, realloc to 0). */
  frees: number;
  /** Successful reallocs of an existing block. */
  reallocs: number;
  /** Bytes allocated, plus growth by realloc. */
  bytesAllocated: number;
  /** Bytes freed, plus shrinkage by realloc. */
  bytesFreed: number;
  /** Allocations refused by the tag's limit. */
  limitDenied: number;
}

export interface TagInfo {
  id: number;
  name: string;
  /** The tag's bytes are reported to V8 as external memory. */
  external: boolean;
  /** Byte limit, or null when the tag has none. */
  limit: number | null;
}

export interface TagCounters extends Counters {
  id: number;
  external: boolean;
  limit: number | null;
}

export interface Overhead {
  /** Headers, canaries and alignment padding of live blocks, in bytes. */
  blockBytes: number;
  /** The tracker's own tables and counter pages, in bytes. */
  metadataBytes: number;
  /** blockBytes + metadataBytes + cacheBytes. */
  totalBytes: number;
  /** Freed blocks the threads' caches keep for reuse (bytes asked of libc). */
  cacheBytes: number;
}

export interface MisuseCounts {
  doubleFree: number;
  foreignFree: number;
  overrun: number;
  tagMismatch: number;
  badTag: number;
  untrackUnknown: number;
  trackTwice: number;
  externalBelowZero: number;
  doubleReported: number;
  /** A finalizer trampoline ran for a record that had already finished. */
  doubleFinalize: number;
  /** A finalizer ran after its environment was gone. */
  finalizeAfterTeardown: number;
  /** Sum of the kinds above. */
  total: number;
}

export interface MisuseSite extends MisuseCounts {
  /** Source file of the call, or null for calls made without a site. */
  file: string | null;
  /** Line of the call (0 without a site). */
  line: number;
  /** Function of the call, or null without a site. */
  function: string | null;
}

export interface Misuse extends MisuseCounts {
  sites: MisuseSite[];
}

export interface Stats {
  /** Date.now() when the stats were read. */
  time: number;
  /** All tags together. */
  total: Counters;
  /** Every registered tag, by name. */
  tags: { [name: string]: TagCounters };
  overhead: Overhead;
  misuse: Misuse;
  /** Per-thread counter shards ever created (threads that allocated). */
  threads: number;
  external: ExternalStats;
  /** Addons instrumented by attach(), by name (docs/attach.md); {} when none. */
  addons: { [name: string]: AttachedAddon };
  heap: import('v8').HeapInfo;
  memoryUsage: NodeJS.MemoryUsage;
}

/** One external tag's audit in one environment (bytes). */
export interface ExternalTagAudit {
  /** Owed to V8: live external-tagged blocks plus explicit adjustments. */
  owed: number;
  /** The part of owed that came from nmw_external_adjust(). */
  explicitOwed: number;
  /** Reported to V8 at the last flush. */
  reported: number;
  /** owed - reported. */
  pending: number;
  /** nmw_external_adjust() calls. */
  explicitCalls: number;
  /** Explicit adjustments that would have gone below zero (clamped at zero). */
  belowZero: number;
}

/** One environment (main thread or worker) as V8 sees its external memory. */
export interface ExternalEnvironment {
  id: number;
  owed: number;
  reported: number;
  pending: number;
  /** napi_adjust_external_memory calls made for this environment. */
  adjustCalls: number;
  /** Flushes refused because they were not on the environment's JS thread (always 0). */
  offThreadCalls: number;
  flushes: number;
  tags: { [name: string]: ExternalTagAudit };
}

export interface ExternalStats {
  /** Bytes one thread accumulates for an environment before it is reported. */
  threshold: number;
  /** This environment (null if it could not be attached). */
  environment: ExternalEnvironment | null;
  /** Every live environment. */
  environments: ExternalEnvironment[];
  /** External-tagged bytes allocated off the JS thread without naming an env. */
  unattributedBytes: number;
  /** External-tagged blocks handed to V8 as external buffers (counted twice). */
  doubleReported: number;
  teardown: {
    /** Environments torn down so far. */
    environments: number;
    /** Bytes still reported to V8 when their environment went away. */
    reportedBytes: number;
    /** Pending bytes (never reported) dropped at teardown. */
    droppedBytes: number;
    /** Bytes / blocks freed after their environment was torn down. */
    freedAfterBytes: number;
    freedAfterBlocks: number;
  };
  /** Environment slots: live now, ever used (high-water mark), capacity. */
  ownerSlots: { live: number; used: number; capacity: number };
}

export interface TagOptions {
  /** Report the tag's bytes to V8 as external memory. Omitted: an existing tag is
   * returned as it is, a new one is not external. */
  external?: boolean;
  /** Byte limit; null removes it; omitted leaves the limit as it is. */
  limit?: number | null;
}

export type SiteSortKey = 'currBytes' | 'currBlocks' | 'totalBytes' | 'totalBlocks';

export interface SitesOptions {
  /** Only rows of this tag (name or id). */
  tag?: string | number;
  /** Most rows returned: a positive integer or Infinity. Default 10. */
  limit?: number;
  /** Descending order by this column. Default 'currBytes'. */
  sortBy?: SiteSortKey;
}

export interface SiteRow {
  /** Source file of the allocation, or null for allocations made without a site. */
  file: string | null;
  /** Line (0 without a site). */
  line: number;
  /** Function, or null without a site. */
  function: string | null;
  /** Tag name. */
  tag: string;
  currBytes: number;
  currBlocks: number;
  /** Bytes allocated here ever (with realloc growth). */
  totalBytes: number;
  /** Blocks allocated here ever. */
  totalBlocks: number;
  frees: number;
  reallocs: number;
  bytesFreed: number;
}

export interface SnapshotRow {
  readonly file: string | null;
  readonly line: number;
  readonly function: string | null;
  readonly tag: string;
  readonly currBytes: number;
  readonly currBlocks: number;
}

export type GroupBy = 'tag' | 'site';

export interface TagStatistic {
  tag: string;
  bytes: number;
  blocks: number;
}

export interface SiteStatistic extends TagStatistic {
  file: string | null;
  line: number;
  function: string | null;
}

export interface TagDiff extends TagStatistic {
  bytesDiff: number;
  blocksDiff: number;
}

export interface SiteDiff extends SiteStatistic {
  bytesDiff: number;
  blocksDiff: number;
}

export interface CompareOptions<G extends GroupBy = GroupBy> {
  /** Default 'tag'. */
  groupBy?: G;
}

export declare class Snapshot {
  /** Not constructible: use snapshot(). */
  private constructor();
  /** Date.now() when the snapshot was taken. */
  readonly time: number;
  /** Every (site, tag) row. */
  readonly rows: ReadonlyArray<SnapshotRow>;
  statistics(groupBy?: 'tag'): TagStatistic[];
  statistics(groupBy: 'site'): SiteStatistic[];
  compareTo(older: Snapshot, options?: CompareOptions<'tag'>): TagDiff[];
  compareTo(older: Snapshot, options: CompareOptions<'site'> & { groupBy: 'site' }): SiteDiff[];
}

export interface RegionDelta {
  /** Blocks allocated since the region began. */
  totalBlocks: number;
  /** Bytes allocated since the region began. */
  totalBytes: number;
  /** Net change of current blocks since the region began. */
  currBlocks: number;
  /** Net change of current bytes since the region began. */
  currBytes: number;
  /** Highest currBlocks reached since the region began. */
  maxBlocks: number;
  /** Highest currBytes reached since the region began. */
  maxBytes: number;
}

export declare class Region {
  /** Not constructible: use region(). */
  private constructor();
  /** True once close() was called. */
  readonly closed: boolean;
  /** Throws an Error with code 'ERR_NMW_REGION_CLOSED' after close(). */
  delta(): RegionDelta;
  /** Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}

export interface Config {
  external: {
    /** Bytes of external-memory change one thread accumulates for an environment
     * before it is reported to V8. Default 1 MiB. */
    threshold: number;
  };
  finalizers: {
    /** Record the JS stack of each finalizer registration (process-wide). Default false. */
    captureStacks: boolean;
  };
}

export interface ConfigureOptions {
  external?: { threshold?: number };
  finalizers?: { captureStacks?: boolean };
}

export interface SettleOptions {
  /** Most rounds of gc() + two setImmediate turns. Default 10. */
  maxRounds?: number;
}

/** The package version. */
export declare const version: string;
/** The ABI version of the C API table (include/native_memwatch.h). */
export declare const abiVersion: number;
/** The include directory of native_memwatch.h, quoted (for binding.gyp include_dirs). */
export declare const include: string;
/** The include directory of native_memwatch.h. */
export declare const include_dir: string;

/** Registers (or finds) a tag; returns its id. */
export declare function tag(name: string, options?: TagOptions): number;
export declare function tags(): TagInfo[];
/** Sets a tag's byte limit; null removes it. */
export declare function setLimit(tag: string | number, bytes: number | null): void;
export declare function stats(): Stats;
export declare function sites(options?: SitesOptions): SiteRow[];
export declare function snapshot(): Snapshot;
/** Resets the peak of one tag, or with no argument of every tag and the total. */
export declare function resetPeak(tag?: string | number): void;
export declare function region(): Region;
/** Runs a full garbage collection (works without --expose-gc). */
export declare function gc(): void;
/** Collects garbage until the totals stop changing; resolves to the rounds run. */
export declare function settle(options?: SettleOptions): Promise<number>;
export declare function configure(options?: ConfigureOptions): Config;
/** Reports this environment's pending external-memory change to V8 now; returns it. */
export declare function flushExternal(): number;
/** Marks a tag external (its bytes are reported to V8) or not. */
export declare function setExternal(tag: string | number, external: boolean): void;

/** Finalizer counts of one tag, or of all tags (docs/finalizers.md). */
export interface FinalizerCounts {
  registered: number;
  /** Ran while the environment was live (after a GC). */
  finalized: number;
  /** Ran at environment teardown (worker exit, natural exit of the main thread). */
  finalizedAtTeardown: number;
  /** remove_wrap, a reference deleted early, instance data replaced. */
  cancelled: number;
  /** Registered, not run, not cancelled. */
  live: number;
  /** Still live when the process exits for good (process.exit(), a fatal exception). */
  neverRun: number;
}

export interface FinalizerStats extends FinalizerCounts {
  durations: {
    /** Non-empty log2 buckets: count of durations d with leNs / 2 < d <= leNs (Infinity: the last). */
    histogram: { leNs: number; count: number }[];
    maxNs: number;
    totalNs: number;
  };
  /** Age of the oldest live record, or null when none is live. */
  oldestLiveMs: number | null;
}

export interface FinalizerOverhead {
  recordBytes: number;
  hashBytes: number;
  envBytes: number;
  stackBytes: number;
  totalBytes: number;
  /** Record slots allocated (the table grows to the peak of live records). */
  capacity: number;
  live: number;
  peakLive: number;
  /** Live records whose environment's slot was reused by a later one. */
  orphans: number;
  registerFailed: number;
}

export interface FinalizerSummary {
  tags: Record<string, FinalizerStats>;
  total: FinalizerStats;
  overhead: FinalizerOverhead;
}

export type FinalizerKind =
  | 'wrap'
  | 'finalizer'
  | 'external'
  | 'external_arraybuffer'
  | 'external_buffer'
  | 'instance_data';

export interface LiveFinalizer {
  /** The record id (test-only helpers take it). */
  id: number;
  /** The environment (see finalizers.environments()). */
  environment: number;
  kind: FinalizerKind;
  tag: string;
  file: string | null;
  line: number;
  function: string | null;
  ageMs: number;
  /** The JS stack at registration, when captureStacks was on. */
  stack?: string;
}

/** 'current' (default), 'all', or an environment id. */
export type FinalizerEnvironment = 'current' | 'all' | number;

export interface FinalizersOptions {
  environment?: FinalizerEnvironment;
}

export interface LiveFinalizersOptions {
  tag?: string | number;
  /** Only records at least this old. Default 0. */
  olderThanMs?: number;
  /** At most this many, oldest first. Default Infinity. */
  limit?: number;
  environment?: FinalizerEnvironment;
}

export interface FinalizerEnvironmentInfo {
  id: number;
  /** worker_threads threadId (0: main thread), null when unknown. */
  threadId: number | null;
  /** 'gone': torn down and its slot reused. */
  state: 'live' | 'torn_down' | 'gone';
  /** The calling environment. */
  current: boolean;
  tags: Record<string, FinalizerStats>;
  total: FinalizerStats;
}

export interface FinalizerExitSite {
  environment: number;
  threadId: number | null;
  tag: string;
  kind: FinalizerKind;
  file: string | null;
  line: number;
  function: string | null;
  count: number;
  oldestAgeMs: number;
}

export interface FinalizerExitReport {
  version: 1;
  /** 'exit': from the process 'exit' event; 'atexit': rewritten at the very end of the process. */
  phase: 'exit' | 'atexit';
  exit: 'natural' | 'process.exit' | 'uncaught-exception' | 'unknown';
  exitCode: number | null;
  pid: number;
  /** True when nothing more will run: neverRun is definitive. */
  final: boolean;
  /** Records still live: never ran (final) or, at a natural exit's 'exit' event, left to the teardown. */
  neverRun: { count: number; tags: Record<string, number>; sites: FinalizerExitSite[] };
  environments: {
    id: number;
    threadId: number | null;
    state: 'live' | 'torn_down' | 'gone';
    total: FinalizerCounts;
    tags: Record<string, FinalizerCounts>;
  }[];
}

/** Finalizer audit of this environment (or options.environment). */
export declare function finalizers(options?: FinalizersOptions): FinalizerSummary;
export declare namespace finalizers {
  /** Live records, oldest first. */
  function live(options?: LiveFinalizersOptions): LiveFinalizer[];
  /** Every environment with finalizer records, torn-down ones included. */
  function environments(): FinalizerEnvironmentInfo[];
  /** Calls listener(report) at process exit (main thread); returns a function that removes it. */
  function onExit(listener: (report: FinalizerExitReport) => void): () => void;
}

// ---- process memory explained ----

/** The names of explain()'s parts, in order. */
export type ExplainPartName =
  | 'v8HeapUsed'
  | 'v8HeapFree'
  | 'arrayBuffers'
  | 'externalOther'
  | 'native'
  | 'mallocOther'
  | 'mallocFree'
  | 'files'
  | 'shmem'
  | 'stack'
  | 'unexplained';

export interface ExplainPart {
  /** Bytes; only `unexplained` can be negative. */
  bytes: number;
  /** Where the number comes from. */
  source: string;
}

export interface ExplainNativePart extends ExplainPart {
  /** Live tracked bytes by tag name (tags with none are left out). */
  tags: Record<string, number>;
  /** The tracker's own memory (headers, counters), included in bytes. */
  overheadBytes: number;
}

export interface Explanation {
  time: number;
  /** The resident set size; the parts sum to it. */
  rss: number;
  rssSource: string;
  parts: { [K in Exclude<ExplainPartName, 'native'>]: ExplainPart } & { native: ExplainNativePart };
  /** glibc mallinfo2(); null without it. */
  malloc: {
    arenaBytes: number;
    inUseBytes: number;
    freeBytes: number;
    mmappedBytes: number;
    mmappedBlocks: number;
    releasableBytes: number;
  } | null;
  /** /proc/self/status; null without it. */
  status: {
    rssBytes: number;
    rssAnonBytes: number;
    rssFileBytes: number;
    rssShmemBytes: number;
    vmStackBytes: number;
    vmHwmBytes: number;
  } | null;
}

/** RSS split into parts that add up to it, each with its source. */
export declare function explain(options?: {}): Explanation;
export declare namespace explain {
  const parts: readonly ExplainPartName[];
}

declare const nativeMemwatch: {
  version: typeof version;
  abiVersion: typeof abiVersion;
  include: typeof include;
  include_dir: typeof include_dir;
  tag: typeof tag;
  tags: typeof tags;
  setLimit: typeof setLimit;
  stats: typeof stats;
  sites: typeof sites;
  snapshot: typeof snapshot;
  resetPeak: typeof resetPeak;
  region: typeof region;
  gc: typeof gc;
  settle: typeof settle;
  configure: typeof configure;
  flushExternal: typeof flushExternal;
  setExternal: typeof setExternal;
  finalizers: typeof finalizers;
  explain: typeof explain;
  format: typeof format;
  table: typeof table;
  valgrindSuppressions: typeof valgrindSuppressions;
  attach: typeof attach;
  attached: typeof attached;
  HeapDiff: typeof HeapDiff;
  summarizeHeapSnapshot: typeof summarizeHeapSnapshot;
  diffHeapSnapshots: typeof diffHeapSnapshots;
  writeHeapSnapshot: typeof writeHeapSnapshot;
  heapSnapshotOnSignal: typeof heapSnapshotOnSignal;
  heapSnapshotNearLimit: typeof heapSnapshotNearLimit;
  SamplingProfile: typeof SamplingProfile;
  sampling: typeof sampling;
  Snapshot: typeof Snapshot;
  Region: typeof Region;
} & MemwatchEvents;
export default nativeMemwatch;

/** What format() and table() accept: what the API returns. */
export type Formattable =
  | Stats
  | Snapshot
  | SiteRow[]
  | TagStatistic[]
  | SiteStatistic[]
  | TagDiff[]
  | SiteDiff[]
  | RegionDelta
  | FinalizerSummary
  | LiveFinalizer[]
  | FinalizerEnvironmentInfo[]
  | FinalizerExitReport
  | number;

export interface FormatOptions {
  /** At most this many rows (format: default 10; table: all). */
  limit?: number;
}

/** A short human summary (what console.log prints for these objects). */
export declare function format(x: Formattable, options?: FormatOptions): string;
/** The rows of x as an aligned text table, sizes in B/KiB/MiB/GiB. */
export declare function table(x: Formattable, options?: FormatOptions): string;
/** Path of the Valgrind suppression file for Node's and V8's own reports (docs/valgrind.md). */
export declare const valgrindSuppressions: string;
/** One addon instrumented by attach() (docs/attach.md). Counts start at attach. */
export interface AttachedAddon {
  /** The tag: "<package>/<file>", e.g. "better-sqlite3/better_sqlite3.node". */
  name: string;
  package: string;
  file: string;
  /** The resolved path of the .node file. */
  path: string;
  /** The tag id. */
  tag: number;
  currBytes: number;
  currBlocks: number;
  peakBytes: number;
  peakBlocks: number;
  allocs: number;
  frees: number;
  reallocs: number;
  bytesAllocated: number;
  bytesFreed: number;
  /** free/delete/realloc of pointers it did not get while attached: passed on untouched. */
  foreignFrees: number;
  /** Finalizers it registered through napi_wrap, napi_add_finalizer, napi_create_external*, napi_set_instance_data. */
  finalizers: {
    registered: number;
    finalizedGc: number;
    finalizedTeardown: number;
    cancelled: number;
    live: number;
    neverRun: number;
  };
  /** Its napi_adjust_external_memory calls (passed on unchanged). */
  external: {
    /** The sum of its changes. */
    total: number;
    calls: number;
    /** Calls that took its own total below zero. */
    belowZero: number;
    /** Calls from a thread that is not its environment's JS thread. */
    offThread: number;
  };
  /** The relocation slots rewritten. */
  relocations: {
    slots: number;
    jumpSlots: number;
    globDats: number;
    /** Slots in the read-only-after-relocation range, written under mprotect. */
    relroSlots: number;
    /** Entries of symbols the addon defines itself, left alone. */
    definedLeftAlone: number;
  };
}

export interface AttachOptions {
  /** Only these addons: package names, tag names, file names or absolute paths. */
  addons?: string[] | null;
  /** Not these (same forms). */
  exclude?: string[] | null;
}

export interface AttachState {
  /** Addons loaded from now on are attached (attach() or attach(options) was called). */
  enabled: boolean;
  /** Linux with glibc on x64 or arm64. */
  supported: boolean;
  /** e.g. "linux-x64-glibc". */
  platform: string;
  addons: { [name: string]: AttachedAddon };
  /** Objects that could not be attached, with the reason; nothing of them was patched. */
  skipped: { path: string; reason: string }[];
  liveBlocks?: number;
  registryBytes?: number;
  sites?: number;
}

/**
 * Instruments addons without recompiling them (docs/attach.md): with no argument
 * or options, every .node addon loaded from now on, in any thread; with a path,
 * one addon that is already loaded. Throws ERR_NMW_ATTACH_UNSUPPORTED off Linux/glibc x64/arm64.
 */
export declare function attach(pathOrOptions?: string | AttachOptions): AttachState;
/** What attach() did so far. */
export declare function attached(): AttachState;

// ---- Heap diffs and snapshots (docs/heap-snapshots.md) ----

/** One side of a heap diff, as memwatch reports it. */
export interface HeapDiffSide {
  nodes: number;
  size_bytes: number;
  /** memwatch's human string, e.g. "8.65 mb". */
  size: string;
  time: Date;
}

/** One constructor (or V8 node class) of a heap diff. */
export interface HeapDiffDetail {
  what: string;
  size_bytes: number;
  size: string;
  '+': number;
  '-': number;
  /** Heap snapshot node ids of a sample of the allocated objects (with retainers). */
  sampleIds?: number[];
  /** One shortest retainer path from a GC root per sample (top growing rows only). */
  retainers?: HeapRetainer[];
}

/** A step of a retainer path: the root first, the sampled object last. */
export interface HeapPathStep {
  id: number;
  type: string;
  /** The class (objects) or name (other nodes). */
  what?: string;
  name?: string;
  /** The edge from the previous step: a property name or an element index. */
  edge?: string | number;
  edgeType?: string;
}

export interface HeapRetainer {
  id: number;
  /** null when no path from a GC root reaches the sample. */
  path: HeapPathStep[] | null;
  /** "(root) @1 ... -> Foo @123". */
  text: string | null;
}

/** mw.summarizeHeapSnapshot's result. */
export interface HeapSnapshotSummary {
  nodes: number;
  /** The file's mtime. */
  time: Date;
  size_bytes: number;
  size: string;
  reachable_nodes: number;
  /** Largest first. */
  details: { what: string; count: number; size_bytes: number; size: string }[];
}

export interface HeapDiffResult {
  before: HeapDiffSide;
  after: HeapDiffSide;
  change: {
    size_bytes: number;
    size: string;
    freed_nodes: number;
    allocated_nodes: number;
    details: HeapDiffDetail[];
  };
  /** With new HeapDiff({includeNative: true}): the native tags that changed. */
  native?: { size_bytes: number; details: TagDiff[] };
}

export interface HeapDiffEndOptions {
  /** true, or {top = 5, samples = 3}: retainer paths for the rows that grew most. */
  retainers?: boolean | { top?: number; samples?: number };
}

/** memwatch's HeapDiff: a heap snapshot now, another at end(), and their difference. */
export declare class HeapDiff {
  constructor(options?: { includeNative?: boolean });
  /** The diff; a second call throws ERR_NMW_HEAPDIFF_ENDED. */
  end(options?: HeapDiffEndOptions): HeapDiffResult;
}

/** Summarizes a .heapsnapshot file of any size (streamed; the JSON is never held). */
export declare function summarizeHeapSnapshot(path: string): Promise<HeapSnapshotSummary>;
/** Diffs two .heapsnapshot files of one isolate, in HeapDiff's shape. */
export declare function diffHeapSnapshots(pathA: string, pathB: string, options?: HeapDiffEndOptions): Promise<HeapDiffResult>;
/** Writes a heap snapshot (default name with pid, thread id and time) and returns its absolute path. */
export declare function writeHeapSnapshot(path?: string): string;
/** Writes a heap snapshot into options.dir on each `signal`; returns a function that removes the handler. */
export declare function heapSnapshotOnSignal(
  signal?: NodeJS.Signals,
  options?: { dir?: string; onSnapshot?: (err: Error | null, path?: string) => void },
): () => boolean;
/** Asks V8 for up to options.count snapshots when the heap nears its limit (no command-line flag needed). */
export declare function heapSnapshotNearLimit(options?: { dir?: string; count?: number }): { dir: string; count: number; thread: 'main' | number };

/** A JS allocation site of a sampling profile. */
export interface SampledSite {
  function: string;
  file: string;
  line: number;
  column: number;
  bytes: number;
  stack: { function: string; file: string; line: number; column: number }[];
}

/** Live sampled allocations of V8's sampling heap profiler. */
export declare class SamplingProfile {
  private constructor();
  readonly time: number;
  readonly intervalBytes: number;
  readonly totalBytes: number;
  top(limit?: number): SampledSite[];
  /** Sites ranked by growth of live sampled bytes since `older`. */
  compareTo(older: SamplingProfile): (SampledSite & { bytesBefore: number; growth: number })[];
}

/** The sampling heap profiler (Poisson sampling, mean interval 512 KiB by default). */
export declare const sampling: {
  /** intervalBytes: mean sampling interval (default 524288); stackDepth: frames kept a stack, 1..128 (default 64). */
  start(options?: { intervalBytes?: number; stackDepth?: number; includeCollected?: boolean }): void;
  profile(): SamplingProfile;
  stop(): SamplingProfile;
  isStarted(): boolean;
  readonly SamplingProfile: typeof SamplingProfile;
};

// ---- events (issue 14): 'gc', 'stats', 'leak'; docs/api.md "Events", docs/leak-detection.md ----

/** The ten heap fields of a 'gc' event (gc-stats' set, as V8 names them). */
export interface GcHeapFields {
  total_heap_size: number;
  total_heap_size_executable: number;
  used_heap_size: number;
  heap_size_limit: number;
  total_physical_size: number;
  total_available_size: number;
  malloced_memory: number;
  peak_malloced_memory: number;
  number_of_native_contexts: number;
  number_of_detached_contexts: number;
}

/** One GC, as gc-stats gives it (times in ns on process.hrtime's clock). */
export interface GcInfo {
  startTime: number;
  endTime: number;
  /** Duration in ns. */
  pause: number;
  /** Duration in ms (fractional). */
  pauseMS: number;
  /** 1 scavenge (and minor mark-sweep), 2 mark-sweep-compact, 4 incremental marking, 8 weak callbacks. */
  gctype: 1 | 2 | 4 | 8;
  kind: 'scavenge' | 'minor-mark-sweep' | 'mark-sweep-compact' | 'incremental-marking' | 'weak-callbacks';
  /** Asked for (mw.gc(), the detector's confirmations, --expose-gc's gc()). */
  forced: boolean;
  flags: number;
  /** 'gc': before/after measured inside the GC (v8.GCProfiler); 'after': read when the entry was delivered. */
  measured: 'gc' | 'after';
  before: GcHeapFields;
  after: GcHeapFields;
  diff: GcHeapFields;
}

/** After each full GC: memwatch's fields, @airbnb/node-memwatch's, and ours. */
export interface GcStats extends GcHeapFields {
  num_full_gc: number;
  num_inc_gc: number;
  heap_compactions: number;
  estimated_base: number;
  current_base: number;
  min: number;
  max: number;
  /** Percent, one decimal. */
  usage_trend: number;
  /** Microseconds since the epoch. */
  gc_ts: number;
  gcScavengeCount: number;
  gcScavengeTime: number;
  gcMarkSweepCompactCount: number;
  gcMarkSweepCompactTime: number;
  gcIncrementalMarkingCount: number;
  gcIncrementalMarkingTime: number;
  gcProcessWeakCallbacksCount: number;
  gcProcessWeakCallbacksTime: number;
  /** This GC's duration, ns. */
  gc_time: number;
  does_zap_garbage: number;
  total_global_handles_size: number;
  used_global_handles_size: number;
  external_memory: number;
  native: { bytes: number; blocks: number; tags: Record<string, { bytes: number; blocks: number }> };
  finalizers: { live: number; tags: Record<string, number> };
  external: { v8: number; arrayBuffers: number; reported: number };
}

export type LeakKind = 'heap' | 'native' | 'finalizers' | 'external' | 'handles';

/** A 'leak' event. */
export interface LeakInfo {
  kind: LeakKind;
  /** The tag (native, finalizers), the resource type (handles), null (heap, external). */
  tag: string | null;
  /** When the growth began (the span's first sample), and when it was confirmed. */
  start: Date;
  end: Date;
  /** Bytes (heap, native, external) or records/handles (finalizers, handles) since start. */
  growth: number;
  reason: string;
  /** Window minima the verdict rests on. */
  samples: number;
  /** growth per second. */
  rate: number;
  unit: 'bytes' | 'count';
  base: number;
  current: number;
  threadId: number;
  /** Where: call sites (native), finalizer sites (finalizers), heap spaces (heap), the resource type (handles). */
  top: Array<{ [key: string]: string | number | null }>;
  /** With configure({leak: {heapSnapshot: dir}}): the snapshot written at the first heap leak. */
  heapSnapshot?: string | null;
  heapSnapshotError?: string;
}

export interface LeakOptions {
  /** ms between samples (unref'd timer). Default 1000. */
  interval?: number;
  /** ms per window; each series keeps its minimum per window. Default 2000. */
  window?: number;
  /** ms after the first listener before sampling starts. Default 4000. */
  warmup?: number;
  /** Window minima the test needs (and looks at). Default 9. */
  samples?: number;
  /** Minimum growth over the span, bytes. Default 1 MiB. */
  minGrowth?: number;
  /** Minimum growth over the span, records or handles. Default 64. */
  minCount?: number;
  /** Minimum growth as a fraction of the base. Default 0.01. */
  minFraction?: number;
  /** Mann-Kendall one-sided confidence. Default 0.99. */
  confidence?: number;
  /** Confirm suspects of GC-sensitive series with forced full GCs. Default true. */
  forceGc?: boolean;
  kinds?: LeakKind[];
  /** Directory for a heap snapshot at the first heap leak, or false. Default false. */
  heapSnapshot?: string | false;
  /** Also watch native series in worker threads. Default false. */
  workers?: boolean;
}

export type LeakConfig = Required<LeakOptions>;

export interface ConfigureOptions {
  leak?: LeakOptions;
}

export interface Config {
  leak: LeakConfig;
}

type AnyListener = (...args: any[]) => void;

export interface MemwatchEvents {
  on(event: 'gc', listener: (info: GcInfo) => void): typeof nativeMemwatch;
  on(event: 'stats', listener: (stats: GcStats) => void): typeof nativeMemwatch;
  on(event: 'leak', listener: (info: LeakInfo) => void): typeof nativeMemwatch;
  on(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
  once(event: 'gc', listener: (info: GcInfo) => void): typeof nativeMemwatch;
  once(event: 'stats', listener: (stats: GcStats) => void): typeof nativeMemwatch;
  once(event: 'leak', listener: (info: LeakInfo) => void): typeof nativeMemwatch;
  once(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
  off(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
  addListener(event: 'gc', listener: (info: GcInfo) => void): typeof nativeMemwatch;
  addListener(event: 'stats', listener: (stats: GcStats) => void): typeof nativeMemwatch;
  addListener(event: 'leak', listener: (info: LeakInfo) => void): typeof nativeMemwatch;
  addListener(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
  removeListener(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
  removeAllListeners(event?: string | symbol): typeof nativeMemwatch;
  listenerCount(event: string | symbol, listener?: AnyListener): number;
  emit(event: string | symbol, ...args: any[]): boolean;
  prependListener(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
  prependOnceListener(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
  listeners(event: string | symbol): Function[];
  rawListeners(event: string | symbol): Function[];
  eventNames(): (string | symbol)[];
  setMaxListeners(n: number): typeof nativeMemwatch;
  getMaxListeners(): number;
}

/** One event per GC (gc-stats' shape). */
export declare function on(event: 'gc', listener: (info: GcInfo) => void): typeof nativeMemwatch;
/** After each full GC (memwatch's and @airbnb/node-memwatch's fields, and ours). */
export declare function on(event: 'stats', listener: (stats: GcStats) => void): typeof nativeMemwatch;
/** Growth the detector is confident about (docs/leak-detection.md). */
export declare function on(event: 'leak', listener: (info: LeakInfo) => void): typeof nativeMemwatch;
export declare function on(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
export declare function once(event: 'gc', listener: (info: GcInfo) => void): typeof nativeMemwatch;
export declare function once(event: 'stats', listener: (stats: GcStats) => void): typeof nativeMemwatch;
export declare function once(event: 'leak', listener: (info: LeakInfo) => void): typeof nativeMemwatch;
export declare function once(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
export declare function addListener(event: 'gc', listener: (info: GcInfo) => void): typeof nativeMemwatch;
export declare function addListener(event: 'stats', listener: (stats: GcStats) => void): typeof nativeMemwatch;
export declare function addListener(event: 'leak', listener: (info: LeakInfo) => void): typeof nativeMemwatch;
export declare function addListener(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
export declare function off(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
export declare function removeListener(event: string | symbol, listener: AnyListener): typeof nativeMemwatch;
export declare function removeAllListeners(event?: string | symbol): typeof nativeMemwatch;
export declare function listenerCount(event: string | symbol, listener?: AnyListener): number;

// ---- Peaks under concurrency and strict peaks (issue 8; docs/api.md "Peaks") ----
export interface Counters {
  /** At most this many bytes below the true peakBytes (0: exact: one thread grew the tag, or strictPeaks). */
  peakErrorBound: number;
  /** The same for peakBlocks, in blocks. */
  peakBlocksErrorBound: number;
}
export interface TagInfo {
  /** The tag keeps linearizable peaks (mw.tag(name, {strictPeaks: true})). */
  strictPeaks: boolean;
}
export interface TagOptions {
  /** Linearizable peaks for this tag, at the cost of one shared atomic add per
   * allocation and free of it. Registration only: a tag registered with the other
   * value throws ERR_NMW_TAG_CONFLICT; omitted: an existing tag keeps its own. */
  strictPeaks?: boolean;
}
