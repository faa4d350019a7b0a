// Compiled with tsc --strict --noEmit by npm test: index.d.ts must describe the
// JS API as it is used here, and reject what is wrong (the @ts-expect-error lines).
import mw = require('../..');
import type { Stats, Snapshot, RegionDelta, ExternalStats, TagDiff, SiteDiff } from '../..';

const id: number = mw.tag('types.a', { external: true, limit: 1024 });
mw.tag('types.b');
mw.setLimit(id, null);
mw.setExternal('types.b', true);
const s: Stats = mw.stats();
const curr: number = s.tags['types.a'].currBytes + s.total.peakBytes + s.overhead.totalBytes;
const ext: ExternalStats = s.external;
const pending: number | undefined = ext.environment?.tags['types.a']?.pending;
const rows = mw.sites({ tag: 'types.a', limit: 5, sortBy: 'totalBytes' });
const file: string | null = rows[0]?.file ?? null;
const before: Snapshot = mw.snapshot();
const byTag: TagDiff[] = mw.snapshot().compareTo(before);
const bySite: SiteDiff[] = mw.snapshot().compareTo(before, { groupBy: 'site' });
const region = mw.region();
const delta: RegionDelta = region.delta();
region.close();
mw.resetPeak();
mw.resetPeak('types.a');
mw.gc();
const reported: number = mw.flushExternal();
const threshold: number = mw.configure({ external: { threshold: 1 << 20 } }).external.threshold;
async function later(): Promise<number> {
  return mw.settle({ maxRounds: 3 });
}

// @ts-expect-error: a tag name is a string or an id
mw.tag(5);
// @ts-expect-error: unknown sort key
mw.sites({ sortBy: 'size' });
// @ts-expect-error: threshold is a number
mw.configure({ external: { threshold: '1' } });


// attach() (docs/attach.md)
{
  const state: mw.AttachState = mw.attached();
  const enabled: boolean = state.enabled;
  const options: mw.AttachOptions = { addons: ['better-sqlite3'], exclude: null };
  void options;
  for (const [name, a] of Object.entries(mw.stats().addons)) {
    const bytes: number = a.currBytes + a.external.belowZero + a.finalizers.live + a.relocations.slots;
    void name;
    void bytes;
  }
  void enabled;
}
const explained = mw.explain();
const nativeTags: Record<string, number> = explained.parts.native.tags;
const remainder: number = explained.parts.unexplained.bytes;
const partNames: readonly string[] = mw.explain.parts;
// @ts-expect-error: not a part
explained.parts.heap;

import { register as registerProm } from '../../prometheus';
import { observe as observeOtel } from '../../otel';
const promHandle = registerProm({ prefix: 'app_' });
promHandle.unregister();
const otelHandle = observeOtel();
otelHandle.unregister();

export { explained, nativeTags, remainder, partNames, curr, pending, file, byTag, bySite, delta, reported, threshold, later, ext };

// ---- events (issue 14) ----
import type { LeakInfo, GcInfo, GcStats, LeakConfig } from '../..';
mw.on('leak', (info) => {
  const k: 'heap' | 'native' | 'finalizers' | 'external' | 'handles' = info.kind;
  const d: Date = info.start;
  const g: number = info.growth;
  void [k, d, g, info.reason, info.top, info.heapSnapshot];
});
mw.on('gc', (e: GcInfo) => void (e.gctype === 2 && e.diff.used_heap_size));
mw.once('stats', (s: GcStats) => void (s.estimated_base + s.gc_ts + s.finalizers.live));
mw.on('custom-event', (a: number, b: string) => void [a, b]).removeAllListeners('custom-event');
const handler = (i: LeakInfo): void => void i;
mw.off('leak', handler);
const count: number = mw.listenerCount('leak');
const leakConfig: LeakConfig = mw.configure({ leak: { interval: 500, window: 1000, heapSnapshot: '/tmp' } }).leak;
void [count, leakConfig];
mw.on('leak', (info) => {
  // @ts-expect-error: growth is a number
  const wrong: string = info.growth;
  void wrong;
});
// @ts-expect-error: kinds are a closed set
mw.configure({ leak: { kinds: ['rss'] } });
