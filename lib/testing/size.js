'use strict';

// Byte sizes for the testing toolkit: limits given as numbers (bytes) or strings
// ('24 MB' is 10^6-based, '24 MiB' 2^20-based), and sizes printed in the unit the
// caller asked for, always with the exact byte count beside them.

const { typeError, rangeError, describe } = require('../validate.js');

const UNITS = {
  B: { name: 'B', factor: 1, meaning: null },
  kB: { name: 'kB', factor: 1e3, meaning: '10^3' },
  KB: { name: 'KB', factor: 1e3, meaning: '10^3' },
  MB: { name: 'MB', factor: 1e6, meaning: '10^6' },
  GB: { name: 'GB', factor: 1e9, meaning: '10^9' },
  TB: { name: 'TB', factor: 1e12, meaning: '10^12' },
  KiB: { name: 'KiB', factor: 2 ** 10, meaning: '2^10' },
  MiB: { name: 'MiB', factor: 2 ** 20, meaning: '2^20' },
  GiB: { name: 'GiB', factor: 2 ** 30, meaning: '2^30' },
  TiB: { name: 'TiB', factor: 2 ** 40, meaning: '2^40' },
};
const BYTES = UNITS.B;
const SIZE_RE = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]*)\s*$/;
const WHAT = "a non-negative integer of bytes or a size string such as '64 KiB' or '24 MB'";

/** 1234567 -> '1,234,567' (locale-independent). */
function grouped(n) {
  const sign = n < 0 ? '-' : '';
  return sign + String(Math.abs(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** '1 byte', '6,400 bytes'. */
function bytesText(n) {
  return `${grouped(n)} ${Math.abs(n) === 1 ? 'byte' : 'bytes'}`;
}

/**
 * A limit -> {bytes, unit, text}: `text` is the limit as the caller wrote it,
 * normalised ('24 MiB'). Throws TypeError / RangeError naming `name`.
 */
function parseSize(value, name) {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw rangeError(`${name} must be ${WHAT} (received ${value})`);
    }
    return { bytes: value, unit: BYTES, text: bytesText(value) };
  }
  if (typeof value !== 'string') {
    throw typeError(`${name} must be ${WHAT} (received ${describe(value)})`);
  }
  const m = SIZE_RE.exec(value);
  if (!m) {
    throw rangeError(`${name} must be ${WHAT} (received ${JSON.stringify(value)})`, 'ERR_INVALID_ARG_VALUE');
  }
  const unitName = m[2] === '' ? 'B' : m[2];
  const unit = Object.prototype.hasOwnProperty.call(UNITS, unitName) ? UNITS[unitName] : null;
  if (!unit) {
    throw rangeError(
      `${name} has an unknown unit ${JSON.stringify(m[2])} (use B, kB, MB, GB, TB: powers of 10; KiB, MiB, GiB, TiB: powers of 2)`,
      'ERR_INVALID_ARG_VALUE',
    );
  }
  const exact = Number(m[1]) * unit.factor;
  const bytes = Math.round(exact);
  if (Math.abs(exact - bytes) > 1e-6 * Math.max(1, unit.factor / 1e6)) {
    throw rangeError(`${name} must be a whole number of bytes (received ${JSON.stringify(value)} = ${exact} bytes)`);
  }
  if (!Number.isSafeInteger(bytes)) {
    throw rangeError(`${name} is too large (received ${JSON.stringify(value)})`);
  }
  const number = m[1].startsWith('.') ? `0${m[1]}` : m[1];
  return { bytes, unit, text: unit === BYTES ? bytesText(bytes) : `${number} ${unit.name}` };
}

/** A number with at most 2 decimals, trailing zeros dropped. */
function decimal(x) {
  return String(Math.round(x * 100) / 100);
}

/** bytes in `unit`: '6.25 KiB (6,400 bytes)', or '6,400 bytes' for B. */
function formatSize(bytes, unit = BYTES) {
  if (unit === BYTES) return bytesText(bytes);
  return `${decimal(bytes / unit.factor)} ${unit.name} (${bytesText(bytes)})`;
}

/** A limit as printed in messages: '1 MiB (1,048,576 bytes; 1 MiB = 2^20 bytes)'. */
function formatLimit(limit) {
  if (limit.unit === BYTES) return limit.text;
  return `${limit.text} (${bytesText(limit.bytes)}; 1 ${limit.unit.name} = ${limit.unit.meaning} bytes)`;
}

module.exports = { UNITS, BYTES, parseSize, formatSize, formatLimit, grouped, bytesText, decimal };
