// Compiled with tsc --strict in a fresh app that installed the packed tarball
// (test/js/package.test.js): every value index.d.ts declares is used here, as a
// user would import it. The test checks that each declared name appears.
import mw = require('native-memwatch');
import {
  version, abiVersion, include, include_dir, tag, tags, setLimit, stats, sites, snapshot, resetPeak,
  region, gc, settle, configure, flushExternal, setExternal, finalizers, Snapshot, Region, format, table,
  valgrindSuppressions, explain, attach, attached, HeapDiff, summarizeHeapSnapshot, diffHeapSnapshots,
  writeHeapSnapshot, heapSnapshotOnSignal, heapSnapshotNearLimit, SamplingProfile, sampling,
} from 'native-memwatch';

const v: string = version + include + include_dir + valgrindSuppressions;
const n: number = abiVersion + tag('pkg.ts', { external: false }) + tags().length;
setLimit('pkg.ts', 1024);
setExternal('pkg.ts', false);
const s = stats();
const rows = sites({ limit: 1 });
const snap: Snapshot = snapshot();
resetPeak();
const r: Region = region();
r.close();
gc();
const p: Promise<number> = settle({ maxRounds: 1 });
const c = configure({ finalizers: { captureStacks: false } });
const f: number = flushExternal();
const fin = finalizers();
const live = finalizers.live({ olderThanMs: 0 });
const text: string = format(s) + table(snap.compareTo(snapshot())) + format(fin) + mw.format(live, { limit: 3 });
const rss: number = explain().rss + explain().parts.unexplained.bytes + explain.parts.length;
const attachState = attached();
const maybeAttach: typeof attach | null = attachState.supported ? attach : null;
const hd = new HeapDiff({ includeNative: true });
const grew: number = hd.end({ retainers: { top: 1, samples: 1 } }).change.details.length;
const summary: Promise<number> = summarizeHeapSnapshot(writeHeapSnapshot()).then((side) => side.nodes);
const diff: Promise<string> = diffHeapSnapshots('a.heapsnapshot', 'b.heapsnapshot').then((d) => d.change.size);
const stop: () => boolean = heapSnapshotOnSignal('SIGUSR2', { dir: '.' });
const near: number = heapSnapshotNearLimit({ count: 1 }).count;
sampling.start({ intervalBytes: 1024 });
const profile: SamplingProfile = sampling.stop();
const sampled: number = profile.top(1).length + profile.compareTo(profile).length + (sampling.isStarted() ? 1 : 0);
const viaDefault: number = mw.default.sites().length;
export { v, n, rows, p, c, f, text, rss, maybeAttach, grew, summary, diff, stop, near, sampled, viaDefault };
