'use strict';
// require('native-memwatch/testing'): see docs/testing.md.
module.exports = require('../lib/testing/index.js');
