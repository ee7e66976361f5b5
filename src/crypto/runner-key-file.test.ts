import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KeyConfigError } from './errors.ts';
import { loadOrCreateRunnerKey } from './runner-key-file.ts';
import { generateRunnerKeyPair, open, seal } from './sealing.ts';

const posix = process.platform !== 'win32';

describe('runner key file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyway-runner-key-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('is created mode 0600 and reused on restart', async () => {
    const path = join(dir, 'runner', 'key.json');
    const first = await loadOrCreateRunnerKey(path);
    assert.equal(first.created, true);
    if (posix) assert.equal((await stat(path)).mode & 0o777, 0o600);
    const stored = JSON.parse(await readFile(path, 'utf8'));
    assert.equal(stored.type, 'keyway-runner-key');
    assert.equal(stored.version, 1);
    assert.equal(stored.publicKey, first.keyPair.publicKey);

    const second = await loadOrCreateRunnerKey(path);
    assert.equal(second.created, false);
    assert.deepEqual(second.keyPair, first.keyPair);
    const sealed = await seal(first.keyPair.publicKey, 'v', 'aad');
    assert.equal(await open(second.keyPair.privateKey, sealed, 'aad'), 'v');
    assert.deepEqual(await readdir(join(dir, 'runner')), ['key.json'], 'no temporary files left');
  });

  test('starts that race agree on one key pair', async () => {
    const path = join(dir, 'race', 'key.json');
    const results = await Promise.all(Array.from({ length: 6 }, () => loadOrCreateRunnerKey(path)));
    assert.equal(results.filter((r) => r.created).length, 1);
    for (const r of results) assert.deepEqual(r.keyPair, results[0]!.keyPair);
  });

  test('a file with group or other permissions is refused', { skip: !posix }, async () => {
    const path = join(dir, 'loose.json');
    await loadOrCreateRunnerKey(path);
    for (const mode of [0o640, 0o604, 0o660]) {
      await chmod(path, mode);
      await assert.rejects(loadOrCreateRunnerKey(path), (error: unknown) => {
        assert.ok(error instanceof KeyConfigError);
        assert.match(error.message, /^runner key file .* is accessible by group or others \(mode 06\d\d\)/);
        assert.match(error.message, /chmod 600/);
        return true;
      });
    }
  });

  test('a damaged file is refused without quoting it', async () => {
    const { privateKey, publicKey } = await generateRunnerKeyPair();
    const other = await generateRunnerKeyPair();
    const cases: [string, RegExp][] = [
      [`{"privateKey": "${privateKey}"`, /is not valid JSON/],
      [`${privateKey}`, /is not valid JSON/],
      ['[]', /does not have "type": "keyway-runner-key"/],
      [JSON.stringify({ type: 'keyway-runner-key', version: 2, publicKey, privateKey }), /unsupported "version"/],
      [JSON.stringify({ type: 'keyway-runner-key', version: 1, privateKey }), /lacks "publicKey" or "privateKey"/],
      [
        JSON.stringify({ type: 'keyway-runner-key', version: 1, publicKey, privateKey: privateKey.slice(1) }),
        /"privateKey" that is not base64url/,
      ],
      [
        JSON.stringify({ type: 'keyway-runner-key', version: 1, publicKey: other.publicKey, privateKey }),
        /"publicKey" that does not belong/,
      ],
    ];
    const path = join(dir, 'damaged.json');
    for (const [text, message] of cases) {
      await writeFile(path, text, { mode: 0o600 });
      await assert.rejects(loadOrCreateRunnerKey(path), (error: unknown) => {
        assert.ok(error instanceof KeyConfigError);
        assert.match(error.message, message);
        assert.match(error.message, /delete it to create a new key pair/);
        assert.ok(!error.message.includes(privateKey.slice(0, 12)), 'private key in message');
        return true;
      });
    }
  });
});
