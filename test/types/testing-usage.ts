// Compiled with tsc --strict --noEmit by npm test: testing/index.d.ts and the
// matcher augmentations must describe the toolkit as it is used here.
import testing = require('../../testing');
import type { LeakReport, MemoryResult, LeaksResult, AllocsPerRun } from '../../testing';
import '../../testing/jest';
import { expect as jestExpect } from '@jest/globals';

async function use(): Promise<number> {
  const report: LeakReport = await testing.assertNoLeak(() => 1, { iterations: 10, signals: ['native', 'heap'], tolerance: '1 KiB' });
  const peak: MemoryResult = await testing.limitMemory('24 MiB', async () => {}, { tag: 'app' });
  const leaks: LeaksResult = await testing.limitLeaks(0, () => {}, { perSite: true });
  const per: AllocsPerRun = await testing.allocsPerRun(100, () => {});
  const now = testing.outstanding('app').bytes + testing.outstanding().blocks;
  testing.checkEachTest({ beforeEach: (fn) => fn(), afterEach: (fn) => fn() }, { signals: ['native', 'handles'] });
  await jestExpect(() => {}).not.toLeak({ rounds: 2 });
  await jestExpect(() => {}).toAllocateAtMost('1 MiB');
  const bytes: number = testing.parseSize('24 MB');
  // @ts-expect-error: signals are 'native', 'finalizers' or 'heap'
  await testing.assertNoLeak(() => {}, { signals: ['handles'] });
  // @ts-expect-error: a limit is a number or a size string
  await testing.limitMemory(true, () => {});
  return report.rounds + peak.peakBytes + leaks.bytes + per.blocks + now + bytes;
}

export { use };
