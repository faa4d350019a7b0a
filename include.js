'use strict';

// The directory of native_memwatch.h, for the binding.gyp of an addon that uses
// the C API (node-addon-api's convention: `include` is quoted for gyp's
// include_dirs, `include_dir` is the plain path). Loading this file does not
// load the addon.
const path = require('path');

const include_dir = path.join(__dirname, 'include');

module.exports = {
  include: `"${include_dir}"`,
  include_dir,
};
