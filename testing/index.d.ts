// Types of require('native-memwatch/testing'). Guide: docs/testing.md.

/** Bytes as a number, or a size string: '24 MB' (10^6-based), '24 MiB' (2^20-based), '512 B'. */
export type Limit = number | `${number}` | `${number} ${SizeUnit}` | `${number}${SizeUnit}`;
export type SizeUnit = 'B' | 'kB' | 'KB' | 'MB' | 'GB' | 'TB' | 'KiB' | 'MiB' | 'GiB' | 'TiB';

/** The function under test: its result is awaited when it is a promise (thenable). */
export type TestedFunction = () => unknown;

export type LeakSignal = 'native' | 'finalizers' | 'heap';

export interface LeakOptions {
  /** Calls per round (default 100). */
  iterations?: number;
  /** Rounds compared (default 3); a signal leaks when it grew in every round. */
  rounds?: number;
  /** Calls before the first sample (default: iterations). */
  warmup?: number;
  /** Default ['native', 'finalizers']; 'heap' adds the V8 heap (noisy, opt-in). */
  signals?: LeakSignal[];
  /** Only these tags (native bytes and finalizers). */
  tags?: string[];
  /** Not these tags. */
  exclude?: string[];
  /** Native bytes per iteration a tag may grow by in each round (default 0). */
  tolerance?: Limit;
  /** V8 heap bytes per iteration it may grow by in each round (default 128). */
  heapTolerance?: Limit;
  /** Call sites listed per tag in the message (default 5). */
  topSites?: number;
}

export interface LeakSite {
  file: string | null;
  line: number;
  function: string | null;
  bytes: number;
  blocks: number;
}

export interface FinalizerLeakSite {
  kind: string;
  file: string | null;
  line: number;
  function: string | null;
  live: number;
}

export interface LeakReport {
  leaked: boolean;
  iterations: number;
  rounds: number;
  warmup: number;
  /** Tags whose bytes or blocks grew in every round: growth from the first sample to the last. */
  native: Array<{ tag: string; bytes: number; blocks: number; sites: LeakSite[] }>;
  /** Tags whose live finalizers grew in every round. */
  finalizers: Array<{ tag: string; live: number; sites: FinalizerLeakSite[] }>;
  /** The V8 heap's growth when it leaked: over `rounds` rounds, growing in `roundsGrown` of them; null otherwise. */
  heap: { bytes: number; rounds: number; roundsGrown: number } | null;
}

export interface MemoryOptions {
  /** Only this tag's bytes (default: all tags). */
  tag?: string;
  /** Call sites listed on failure (default 10). */
  topSites?: number;
}

export interface LeaksOptions extends MemoryOptions {
  /** The limit applies to each call site instead of the sum (default false). */
  perSite?: boolean;
}

export interface MemoryResult {
  /** Highest native bytes reached above the start while fn ran. */
  peakBytes: number;
  peakBlocks: number;
  /** The limit in bytes. */
  limit: number;
}

export interface LeaksResult {
  /** Bytes and blocks still outstanding, summed over the call sites that hold more than before. */
  bytes: number;
  blocks: number;
  sites: Array<LeakSite & { tag: string }>;
  limit: number;
}

export interface AllocsPerRun {
  /** Integer average of native blocks allocated per call. */
  blocks: number;
  /** Integer average of native bytes allocated per call. */
  bytes: number;
}

export interface Outstanding {
  bytes: number;
  blocks: number;
}

export type EachTestSignal = 'native' | 'finalizers' | 'handles';

export interface EachTestOptions {
  /** Default: all three. */
  signals?: EachTestSignal[];
  tags?: string[];
  exclude?: string[];
  /** Native bytes per tag a test may leave outstanding (default 0). */
  tolerance?: Limit;
  /** Resource types of process.getActiveResourcesInfo() not counted (default ['Timeout', 'Immediate']). */
  ignoreHandles?: string[];
  topSites?: number;
}

/** A runner's hook functions: node:test, Jest, Mocha and Vitest all fit. */
export interface TestHooks {
  beforeEach(fn: (...args: any[]) => unknown): unknown;
  afterEach(fn: (...args: any[]) => unknown): unknown;
}

export interface MatcherResult {
  pass: boolean;
  message(): string;
}

export interface Matchers {
  toLeak(received: TestedFunction, options?: LeakOptions): Promise<MatcherResult>;
  toAllocateAtMost(received: TestedFunction, limit: Limit, options?: MemoryOptions): Promise<MatcherResult>;
}

/** Rejects with an AssertionError when native bytes, live finalizers or (opt-in) the V8 heap grew in every round. */
export function assertNoLeak(fn: TestedFunction, options?: LeakOptions): Promise<LeakReport>;
/** The peak of native bytes while fn runs must be at most `limit`. */
export function limitMemory(limit: Limit, fn: TestedFunction, options?: MemoryOptions): Promise<MemoryResult>;
/** Native bytes still outstanding after fn and mw.settle() must be at most `limit`. */
export function limitLeaks(limit: Limit, fn: TestedFunction, options?: LeaksOptions): Promise<LeaksResult>;
/** One warm-up call, then the integer averages of native blocks and bytes over n calls. */
export function allocsPerRun(n: number, fn: TestedFunction): Promise<AllocsPerRun>;
/** Native bytes and blocks outstanding now, of every tag or of one (name or id). */
export function outstanding(tag?: string | number): Outstanding;
/** Makes every test fail that leaves native bytes, finalizers or handles outstanding. */
export function checkEachTest(hooks: TestHooks, options?: EachTestOptions): void;
/** The matchers, for expect.extend(matchers) with any Jest-compatible expect. */
export const matchers: Matchers;
/** A limit in bytes: parseSize('1 MiB') === 1048576, parseSize('1 MB') === 1000000. */
export function parseSize(value: Limit): number;

declare const testing: {
  assertNoLeak: typeof assertNoLeak;
  limitMemory: typeof limitMemory;
  limitLeaks: typeof limitLeaks;
  allocsPerRun: typeof allocsPerRun;
  outstanding: typeof outstanding;
  checkEachTest: typeof checkEachTest;
  matchers: Matchers;
  parseSize: typeof parseSize;
};
export default testing;
