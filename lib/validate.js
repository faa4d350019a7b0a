'use strict';

// Argument checks shared by the public functions. Every error names the
// argument as the caller wrote it (`name`, `options.limit`, ...) and carries a
// Node-style `code`.

const TAG_NAME_MAX = 64;
const TAG_NAME_RE = /^[A-Za-z0-9._:/-]+$/;

function describe(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'object') {
    if (Array.isArray(value)) return 'an array';
    const ctor = value.constructor && value.constructor.name;
    return ctor ? `an instance of ${ctor}` : 'an object';
  }
  if (typeof value === 'string') {
    const shown = value.length > 28 ? `${value.slice(0, 25)}...` : value;
    return `type string (${JSON.stringify(shown)})`;
  }
  if (typeof value === 'symbol') return `type symbol (${String(value)})`;
  return `type ${typeof value} (${String(value)})`;
}

function typeError(message, code = 'ERR_INVALID_ARG_TYPE') {
  const err = new TypeError(message);
  err.code = code;
  return err;
}

function rangeError(message, code = 'ERR_OUT_OF_RANGE') {
  const err = new RangeError(message);
  err.code = code;
  return err;
}

function codedError(message, code) {
  const err = new Error(message);
  err.code = code;
  return err;
}

// An options bag: undefined gives {}; anything but a plain object is refused.
function validateOptions(value, name = 'options') {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw typeError(`${name} must be an object (received ${describe(value)})`);
  }
  return value;
}

function validateTagName(value, name = 'name') {
  if (typeof value !== 'string') {
    throw typeError(`${name} must be a string (received ${describe(value)})`);
  }
  if (value.length < 1 || value.length > TAG_NAME_MAX) {
    throw rangeError(
      `${name} must be 1 to ${TAG_NAME_MAX} characters long (received ${value.length})`,
    );
  }
  if (!TAG_NAME_RE.test(value)) {
    throw rangeError(
      `${name} must contain only the characters A-Z a-z 0-9 . _ : / - (received ${JSON.stringify(value)})`,
      'ERR_INVALID_ARG_VALUE',
    );
  }
  return value;
}

function validateBoolean(value, name) {
  if (typeof value !== 'boolean') {
    throw typeError(`${name} must be a boolean (received ${describe(value)})`);
  }
  return value;
}

// A byte limit: null (no limit) or an integer in [0, 2^53 - 1].
function validateByteLimit(value, name) {
  if (value === null) return null;
  if (typeof value !== 'number') {
    throw typeError(`${name} must be a non-negative integer or null (received ${describe(value)})`);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw rangeError(`${name} must be a non-negative integer or null (received ${value})`);
  }
  return value;
}

function validatePositiveInteger(value, name, { allowInfinity = false } = {}) {
  const what = allowInfinity ? 'a positive integer or Infinity' : 'a positive integer';
  if (typeof value !== 'number') {
    throw typeError(`${name} must be ${what} (received ${describe(value)})`);
  }
  if (allowInfinity && value === Infinity) return value;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw rangeError(`${name} must be ${what} (received ${value})`);
  }
  return value;
}

function validateOneOf(value, name, choices) {
  const list = choices.map((c) => `'${c}'`).join(', ');
  if (typeof value !== 'string') {
    throw typeError(`${name} must be one of ${list} (received ${describe(value)})`);
  }
  if (!choices.includes(value)) {
    throw rangeError(
      `${name} must be one of ${list} (received ${JSON.stringify(value)})`,
      'ERR_INVALID_ARG_VALUE',
    );
  }
  return value;
}

// A tag given by name or id -> its id. Unknown tags are a RangeError.
function resolveTag(binding, value, name = 'tag') {
  if (typeof value === 'string') {
    validateTagName(value, name);
    const id = binding.tagLookup(value);
    if (id < 0) {
      throw rangeError(`${name} ${JSON.stringify(value)} is not a registered tag`, 'ERR_NMW_UNKNOWN_TAG');
    }
    return id;
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value >= binding.tagCount()) {
      throw rangeError(`${name} ${value} is not the id of a registered tag`, 'ERR_NMW_UNKNOWN_TAG');
    }
    return value;
  }
  throw typeError(`${name} must be a tag name (string) or id (number) (received ${describe(value)})`);
}

module.exports = {
  TAG_NAME_MAX,
  describe,
  typeError,
  rangeError,
  codedError,
  validateOptions,
  validateTagName,
  validateBoolean,
  validateByteLimit,
  validatePositiveInteger,
  validateOneOf,
  resolveTag,
};
