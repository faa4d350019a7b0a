'use strict';

// `node -r native-memwatch/attach app.js` (or NODE_OPTIONS="-r native-memwatch/attach"):
// attaches to every .node addon loaded afterwards. NATIVE_MEMWATCH_ATTACH=0 turns
// it off, NATIVE_MEMWATCH_ATTACH=a,b names the addons, NATIVE_MEMWATCH_ATTACH_EXCLUDE
// leaves some out. See docs/attach.md.

const { attach, optionsFromEnv } = require('./lib/attach.js');

const options = optionsFromEnv(process.env);
if (options !== null) {
  try {
    attach(options);
  } catch (err) {
    // An unsupported platform must not stop the app: say so once and go on.
    if (err && err.code === 'ERR_NMW_ATTACH_UNSUPPORTED') {
      process.emitWarning(err.message, { code: err.code });
    } else {
      throw err;
    }
  }
}

module.exports = require('./index.js');
