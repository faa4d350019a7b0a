'use strict';
// The benchmarks' command line: numeric options (`--name N`) and flags (`--name`).

const args = process.argv.slice(2);

/** The number after `name`, or dflt when the option is not given. */
function opt(name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const value = Number(args[i + 1]);
  if (!Number.isFinite(value)) throw new RangeError(`${name} needs a number, got ${JSON.stringify(args[i + 1])}`);
  return value;
}

module.exports = { args, opt };
