'use strict';
// mocha examples/testing/mocha/no-leak.test.js: assertNoLeak in Mocha.
const { assertNoLeak } = require('native-memwatch/testing');
const { parse, parseLeaky } = require('../parser.js');

describe('parser (assertNoLeak)', () => {
  it('parse() does not leak', () => assertNoLeak(() => parse('{"a": 1}')));
  it('parseLeaky() does not leak', () => assertNoLeak(() => parseLeaky('{"a": 1}')));
});
