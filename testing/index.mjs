// import ... from 'native-memwatch/testing': the CommonJS module, one instance.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const testing = require('./index.js');

export default testing;
export const { assertNoLeak, limitMemory, limitLeaks, allocsPerRun, outstanding, checkEachTest, matchers, parseSize } =
  testing;
