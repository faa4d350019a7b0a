// The Vitest matchers' types (an ES module, as Vitest is).
import 'native-memwatch/testing/vitest';
import { expect } from 'vitest';
import { assertNoLeak, type LeakReport } from 'native-memwatch/testing';

export async function use(): Promise<number> {
  await expect(() => {}).not.toLeak();
  await expect(() => {}).toAllocateAtMost(1024, { tag: 'app' });
  // @ts-expect-error: the limit is a number or a size string
  await expect(() => {}).toAllocateAtMost({});
  const r: LeakReport = await assertNoLeak(async () => {});
  return r.iterations;
}
