import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cjsExports } from '../../src/core/cjs-interop.js';

test('cjsExports gives module.exports from a Node namespace and from a bundled one', async () => {
  const node = await import('redis');
  assert.equal(typeof cjsExports(node).createClient, 'function');
  // the esbuild bundle's shape: only `default`
  const bundled = { default: { createClient: () => 'x' } } as unknown as typeof node;
  assert.equal(typeof cjsExports(bundled).createClient, 'function');
  // an ESM namespace without a default object stays as it is
  const esm = { Client: class {} };
  assert.equal(cjsExports(esm), esm);
});
