import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTap } from '../runner.js';

// what node 20's TAP reporter prints for a file with nested suites (trimmed of YAML blocks)
const TAP = `TAP version 13
# Subtest: outer
    # Subtest: passes
    ok 1 - passes
    # Subtest: inner
        # Subtest: fails here
        not ok 1 - fails here
            TestContext.<anonymous> (file:///x.test.mjs:5:59)
        # Subtest: skipped
        ok 2 - skipped # SKIP why
        1..2
    not ok 2 - inner
    # Subtest: fails too
    not ok 3 - fails too
    1..3
not ok 1 - outer
# Subtest: top fail
not ok 2 - top fail
# Subtest: top ok
ok 3 - top ok
1..3
# tests 6
# suites 2
# pass 2
# fail 3
# cancelled 1
# skipped 1
`;

test('parseTap names the failing tests (leaves, with their suites) and counts', () => {
  const r = parseTap(TAP);
  assert.deepEqual(r.failures, ['outer > inner > fails here', 'outer > fails too', 'top fail']);
  assert.deepEqual([r.pass, r.fail, r.skipped], [2, 4, 1], 'cancelled tests count as failed');
});

test('parseTap: a file that fails to load is named as the failure', () => {
  const r = parseTap('TAP version 13\n# Error: boom\n# Subtest: /t/bad.test.js\nnot ok 1 - /t/bad.test.js\n  ---\n1..1\n# pass 0\n# fail 1\n');
  assert.deepEqual(r.failures, ['/t/bad.test.js']);
  assert.equal(r.fail, 1);
});

test('parseTap: all passing', () => {
  const r = parseTap('# Subtest: a\nok 1 - a\n# Subtest: b\nok 2 - b # SKIP no server\n# pass 1\n# skipped 1\n');
  assert.deepEqual(r.failures, []);
  assert.deepEqual([r.pass, r.fail, r.skipped], [1, 0, 1]);
});

test('parseTap keeps the first line of each failure\'s error, so a summary-only log says why', () => {
  const tap = [
    '# Subtest: a',
    'not ok 1 - a',
    '  ---',
    '  duration_ms: 5',
    "  failureType: 'testCodeFailure'",
    '  error: |-',
    '    gave up waiting for a first backup',
    '    more detail',
    '  code: ERR_ASSERTION',
    '  ...',
    '# Subtest: b',
    'ok 2 - b',
    '# Subtest: c',
    'not ok 3 - c',
    '  ---',
    "  error: 'Install step failed: apt-get install redis-server'",
    '  ...',
    '# Subtest: d',
    'not ok 4 - d',
    '  ---',
    '  ...',
    '# pass 1',
    '# fail 3',
  ].join('\n');
  const r = parseTap(tap);
  assert.deepEqual(r.failures, ['a', 'c', 'd']);
  assert.deepEqual(r.reasons, ['gave up waiting for a first backup', 'Install step failed: apt-get install redis-server', '']);
});
