import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

process.env['PORTUNIX_HOME'] = mkdtempSync(join(tmpdir(), 'pdb-catalog-'));

const { exportCatalog } = await import('../../src/catalog/export.js');
const { ENGINE_IDS } = await import('../../src/engines/ids.js');

const CATALOG = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'catalog');
const generated = await exportCatalog();

test('catalog/ holds one file per engine, no more', () => {
  assert.deepEqual(readdirSync(CATALOG).filter((f) => f.endsWith('.json')).sort(), ENGINE_IDS.map((id) => `${id}.json`).sort());
});

test('catalog/*.json equals what the exporter produces from the engines (regenerate: node dist/src/catalog/export.js catalog)', () => {
  for (const id of ENGINE_IDS) assert.equal(readFileSync(join(CATALOG, `${id}.json`), 'utf8'), generated[id], `catalog/${id}.json is stale`);
});

test("every entry has Portunix's package shape", () => {
  for (const id of ENGINE_IDS) {
    const p = JSON.parse(generated[id]);
    assert.equal(p.apiVersion, 'v1');
    assert.equal(p.kind, 'Package');
    assert.equal(p.metadata.name, id);
    for (const f of ['displayName', 'category', 'description']) assert.equal(typeof p.metadata[f], 'string', `${id} ${f}`);
    assert.equal(p.spec.hasVariants, true);
    assert.ok(Object.keys(p.spec.platforms).length > 0, `${id} has platforms`);
    for (const [os, platform] of Object.entries(p.spec.platforms) as [string, { type: string; variants: Record<string, Record<string, unknown>> }][]) {
      assert.ok(['linux', 'darwin', 'windows'].includes(os));
      assert.ok(['apt', 'dnf', 'winget', 'chocolatey', 'tar.gz', 'zip', 'container', 'script'].includes(platform.type), `${id}/${os} type ${platform.type}`);
      assert.ok(Object.keys(platform.variants).length > 0);
      for (const [key, v] of Object.entries(platform.variants)) {
        assert.equal(typeof v['version'], 'string', `${id}/${os}/${key}`);
        assert.ok(Array.isArray(v['packages']) && Array.isArray(v['distributions']) && typeof v['requiresSudo'] === 'boolean');
        assert.match(String(v['installScript']), new RegExp(`^portunix db install ${id} --version `));
      }
    }
    assert.equal(typeof p.spec.verification.command, 'string');
  }
});

test('catalog entries carry the engines\' real data: packages, URLs, containers without secrets', () => {
  const mongo = JSON.parse(generated.mongodb);
  assert.deepEqual(mongo.metadata.versions, [{ version: '6.0', eol: '2025-07-31' }, { version: '7.0', eol: '2027-08-31' }]);
  assert.deepEqual(mongo.spec.platforms.linux.variants['7.0'].packages, ['mongodb-org']);
  assert.equal(mongo.spec.platforms.windows.variants['7.0-download'].urls.x64, 'https://fastdl.mongodb.org/windows/mongodb-windows-x86_64-7.0.14.zip');
  const es = JSON.parse(generated.elasticsearch);
  const c = es.spec.platforms.linux.variants['8-container'].container;
  assert.equal(c.image, 'docker.elastic.co/elasticsearch/elasticsearch');
  assert.equal(c.tag, '8.17.0');
  assert.deepEqual(c.ports, ['127.0.0.1:9200:9200']);
  for (const id of ENGINE_IDS) assert.doesNotMatch(generated[id], /PASSWORD=|"[A-Za-z0-9]{32}"/, `${id}: no secrets in the catalog`);
  const ts = JSON.parse(generated.timescaledb);
  assert.ok(!generated.timescaledb.includes('--source portable'), 'TimescaleDB has no portable variant');
  assert.ok(ts.spec.platforms.linux.variants['16'].packages.includes('timescaledb-2-postgresql-16'));
  assert.equal(ts.spec.platforms.windows, undefined, 'TimescaleDB has no Windows variant');
});
