// import 'native-memwatch/testing/vitest' registers these matchers. Both are
// asynchronous: await expect(fn).not.toLeak().
import type { LeakOptions, Limit, MemoryOptions, Matchers } from './index';

declare module 'vitest' {
  interface Assertion<T = any> {
    toLeak(options?: LeakOptions): Promise<void>;
    toAllocateAtMost(limit: Limit, options?: MemoryOptions): Promise<void>;
  }
}

declare const matchers: Matchers;
export default matchers;
