import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decryptField, encryptField, needsReencryption, reencrypt } from './at-rest.ts';
import { KeyConfigError } from './errors.ts';
import { addKey, loadOrCreateKeyFile } from './key-file.ts';

const posix = process.platform !== 'win32';
const ctx = { table: 'connections', column: 'pat', rowId: 'r1' };
const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe('key file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyway-key-file-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('is created mode 0600 (directory included) and reused by the next load', async () => {
    const path = join(dir, 'nested', 'deeper', 'keys');
    const first = await loadOrCreateKeyFile(path);
    assert.equal(first.created, true);
    assert.equal(first.keyring.primaryId, 'k1');
    assert.equal(first.keyring.source, `key file ${path}`);
    if (posix) {
      assert.equal(await modeOf(path), 0o600);
      assert.equal(await modeOf(join(dir, 'nested', 'deeper')), 0o700);
    }
    assert.match(await readFile(path, 'utf8'), /^primary=k1\nk1:[A-Za-z0-9+/]{43}=\n$/m);

    const second = await loadOrCreateKeyFile(path);
    assert.equal(second.created, false);
    const c = encryptField(first.keyring, 'v', ctx);
    assert.equal(decryptField(second.keyring, c, ctx), 'v', 'the second load has the same key');
    assert.deepEqual(await readdir(join(dir, 'nested', 'deeper')), ['keys'], 'no temporary files left');
  });

  test('loads started together agree on one key', async () => {
    const path = join(dir, 'race', 'keys');
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateKeyFile(path)));
    assert.equal(results.filter((r) => r.created).length, 1);
    const c = encryptField(results[0]!.keyring, 'v', ctx);
    for (const { keyring } of results) assert.equal(decryptField(keyring, c, ctx), 'v');
  });

  test('a file readable by group or others is refused with how to fix it', { skip: !posix }, async () => {
    const path = join(dir, 'loose-keys');
    const key = randomBytes(32).toString('base64');
    await writeFile(path, `k1:${key}\n`, { mode: 0o644 });
    await chmod(path, 0o644);
    for (const load of [() => loadOrCreateKeyFile(path), () => addKey(path)]) {
      await assert.rejects(load(), (error: unknown) => {
        assert.ok(error instanceof KeyConfigError);
        assert.match(error.message, /is accessible by group or others \(mode 0644\)/);
        assert.match(error.message, new RegExp(`chmod 600 ${path}`));
        assert.ok(!error.message.includes(key));
        return true;
      });
    }
    assert.equal(await modeOf(path), 0o644, 'left as it was');
  });

  test('a damaged file is refused naming the file and line', async () => {
    const path = join(dir, 'short-keys');
    await writeFile(path, `k1:${randomBytes(31).toString('base64')}\n`, { mode: 0o600 });
    await assert.rejects(loadOrCreateKeyFile(path), /^KeyConfigError: key file .*short-keys, line 1: key "k1" is 31 bytes/);
  });

  test('a directory in place of the file is refused', async () => {
    await assert.rejects(loadOrCreateKeyFile(dir), /is not a regular file/);
  });

  test('addKey makes a new primary; old values still open and need re-encryption', async () => {
    const path = join(dir, 'rotate', 'keys');
    const { keyring: original } = await loadOrCreateKeyFile(path);
    const old = encryptField(original, 'v', ctx);

    const rotated = await addKey(path);
    assert.equal(rotated.primaryId, 'k2');
    assert.deepEqual(rotated.ids, ['k1', 'k2']);
    if (posix) assert.equal(await modeOf(path), 0o600);

    const reloaded = (await loadOrCreateKeyFile(path)).keyring;
    assert.equal(reloaded.primaryId, 'k2');
    assert.equal(decryptField(reloaded, old, ctx), 'v');
    assert.equal(needsReencryption(reloaded, old), true);
    const moved = reencrypt(reloaded, old, ctx);
    assert.equal(needsReencryption(reloaded, moved), false);
    assert.equal(decryptField(rotated, moved, ctx), 'v');

    assert.equal((await addKey(path)).primaryId, 'k3');
    assert.deepEqual(await readdir(join(dir, 'rotate')), ['keys'], 'no temporary files left');
  });

  test('addKey needs an existing file', async () => {
    await assert.rejects(addKey(join(dir, 'missing')), /does not exist/);
  });
});
