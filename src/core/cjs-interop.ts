/**
 * The exports of a CommonJS driver loaded with `import()`. Node gives them as named exports of
 * the namespace (and the whole module.exports as `default`); inside the esbuild bundle the
 * namespace has only `default`. This answers module.exports in both cases, so a driver works
 * the same from dist/ and from the plugin's bundle.
 */
export function cjsExports<T extends object>(namespace: T): T {
  const d = (namespace as { default?: unknown }).default;
  return (d !== null && typeof d === 'object' ? d : namespace) as T;
}
