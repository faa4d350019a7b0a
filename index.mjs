// ES module entry: re-exports the CommonJS module, so that `import` and
// `require` share one instance (an addon can only be loaded through require).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const mw = require('./index.js');

export default mw;
export const {
  version,
  abiVersion,
  include,
  include_dir,
  tag,
  tags,
  setLimit,
  stats,
  sites,
  snapshot,
  resetPeak,
  region,
  gc,
  settle,
  configure,
  explain,
  Snapshot,
  Region,
} = mw;
