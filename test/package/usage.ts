// Compiled with tsc --strict in a fresh app that installed the packed tarball
// (test/js/package.test.js): every value index.d.ts declares is used here, as a
// user would import it. The test checks that each declared name appears.
import mw = require('native-memwatch');
import {
  version, abiVersion, include, include_dir, tag, tags, setLimit, stats, sites, snapshot, resetPeak,
  region, gc, settle, configure, flushExternal, setExternal, finalizers, Snapshot, Region, format, table,
  valgrindSuppressions,
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
export { v, n, rows, p, c, f, text };

// Heap diffs and snapshots (issue 10).
import { HeapDiff, summarizeHeapSnapshot, diffHeapSnapshots, writeHeapSnapshot, heapSnapshotOnSignal, heapSnapshotNearLimit, sampling, SamplingProfile } from 'native-memwatch';
const hd = new HeapDiff({ includeNative: true });
const hdr = hd.end({ retainers: { top: 1, samples: 1 } });
const hdBytes: number = hdr.change.size_bytes + hdr.before.nodes + (hdr.change.details[0]?.retainers?.[0]?.path?.length ?? 0);
const file: string = writeHeapSnapshot();
const summary = summarizeHeapSnapshot(file).then((x) => x.details.length);
const fileDiff = diffHeapSnapshots(file, file).then((x) => x.change.allocated_nodes);
const removeSignal = heapSnapshotOnSignal('SIGUSR2', { dir: '.' });
removeSignal();
const near: string = heapSnapshotNearLimit({ count: 1 }).dir;
sampling.start({ intervalBytes: 65536 });
const prof: SamplingProfile = sampling.profile();
const grown = sampling.stop().compareTo(prof).slice(0, 1);
export { hdBytes, summary, fileDiff, near, grown };
// Process memory explained (issue 13) and attach (issue 12).
import { explain, attach, attached } from 'native-memwatch';
const rss: number = explain().rss + explain().parts.unexplained.bytes + explain.parts.length;
const attachState = attached();
const maybeAttach: typeof attach | null = attachState.supported ? attach : null;
const viaDefault: number = mw.default.sites().length + mw.default.explain().rss;
export { rss, maybeAttach, viaDefault };
// Events (issue 14): typed listeners.
import { on, once, off, addListener, removeListener, removeAllListeners, listenerCount } from 'native-memwatch';
import type { LeakInfo, GcInfo, GcStats } from 'native-memwatch';
const onLeak = (info: LeakInfo): void => {
  const t: number = info.end.getTime() - info.start.getTime() + info.growth + info.rate;
  void t;
};
on('leak', onLeak);
once('gc', (g: GcInfo) => void (g.pause + g.after.used_heap_size));
addListener('stats', (st: GcStats) => void (st.num_full_gc + st.gcScavengeTime + st.native.bytes));
mw.on('stats', (st) => void st.current_base).once('leak', (info) => void info.top);
off('leak', onLeak);
removeListener('leak', onLeak);
const listening: number = listenerCount('leak');
removeAllListeners('gc');
const leakCfg = configure({ leak: { minGrowth: 2 * 1024 * 1024, kinds: ['heap', 'native'] } }).leak.window;
export { listening, leakCfg };
