'use strict';

// Regions: what was allocated between region() and close(), with the highest
// net amount reached in between. An open region is a node in the core's list of
// open regions: any number can be open; begin and close cost O(1), delta() is
// O(regions begun after it and still open), so close regions (close(), or
// `using r = mw.region()` where the runtime has it); one never closed is
// closed when it is garbage collected.

const binding = require('./binding.js');
const { typeError, codedError, describe } = require('./validate.js');

const INTERNAL = Symbol('native-memwatch.internal');

class Region {
  #handle;
  #closed = false;

  constructor(token) {
    if (token !== INTERNAL) {
      throw typeError('Region cannot be constructed directly: use region()', 'ERR_ILLEGAL_CONSTRUCTOR');
    }
    this.#handle = binding.regionBegin();
  }

  // Methods called on anything but a Region throw a TypeError naming `this`.
  static #check(self) {
    if (self === null || typeof self !== 'object' || !(#handle in self)) {
      throw typeError(`this must be a Region (from region()) (received ${describe(self)})`, 'ERR_INVALID_THIS');
    }
  }

  /** True once close() was called. */
  get closed() {
    Region.#check(this);
    return this.#closed;
  }

  /**
   * Counters since the region began: {totalBlocks, totalBytes, currBlocks,
   * currBytes, maxBlocks, maxBytes}.
   */
  delta() {
    Region.#check(this);
    if (this.#closed) throw codedError('the region is closed', 'ERR_NMW_REGION_CLOSED');
    return binding.regionDelta(this.#handle);
  }

  /** Ends the region and frees its slot. Calling it again does nothing. */
  close() {
    Region.#check(this);
    if (this.#closed) return;
    this.#closed = true;
    binding.regionClose(this.#handle);
  }
}

// `using r = mw.region()` closes the region at the end of the block.
if (typeof Symbol.dispose === 'symbol') {
  Object.defineProperty(Region.prototype, Symbol.dispose, {
    value: function dispose() {
      Region.prototype.close.call(this);
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

function region() {
  return new Region(INTERNAL);
}

module.exports = { Region, region };
