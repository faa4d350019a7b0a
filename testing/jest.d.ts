// require('native-memwatch/testing/jest') registers these matchers. Both are
// asynchronous: await expect(fn).not.toLeak().
import type { LeakOptions, Limit, MemoryOptions, Matchers } from './index';

declare global {
  namespace jest {
    interface Matchers<R, T = {}> {
      toLeak(options?: LeakOptions): Promise<R>;
      toAllocateAtMost(limit: Limit, options?: MemoryOptions): Promise<R>;
    }
  }
}

declare module 'expect' {
  interface Matchers<R extends void | Promise<void>, T = unknown> {
    toLeak(options?: LeakOptions): Promise<void>;
    toAllocateAtMost(limit: Limit, options?: MemoryOptions): Promise<void>;
  }
}

declare const matchers: Matchers;
export = matchers;
