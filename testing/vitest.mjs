// import 'native-memwatch/testing/vitest' (in a test file, or in Vitest's
// setupFiles): registers toLeak() and toAllocateAtMost() with Vitest's expect.
import { expect } from 'vitest';
import testing from './index.mjs';

expect.extend(testing.matchers);
export default testing.matchers;
