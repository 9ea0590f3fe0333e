'use strict';
// Matching log entries for /wait: `match` is a subset of the entry. Strings,
// numbers and booleans compare exactly; {"$contains": "..."} and
// {"$regex": "..."} test strings; nested objects match recursively.

function matchValue(actual, expected) {
  if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    if ('$contains' in expected) return typeof actual === 'string' && actual.includes(expected.$contains);
    if ('$regex' in expected) return typeof actual === 'string' && new RegExp(expected.$regex).test(actual);
    if ('$exists' in expected) return (actual !== undefined && actual !== null) === Boolean(expected.$exists);
    return Boolean(actual) && typeof actual === 'object' && matches(actual, expected);
  }
  if (Array.isArray(expected)) return JSON.stringify(actual) === JSON.stringify(expected);
  return actual === expected;
}

function matches(entry, match) {
  return Object.entries(match).every(([key, expected]) => matchValue(entry[key], expected));
}

module.exports = { matches };
