import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { KEYWAY_BIN, localRunnerId, runProcess, signInAsAdmin, startCli } from '../../test/support/cli.ts';
import { insertCanaryCredential, withRunnerCredentials } from '../../test/support/runner-credentials.ts';

const keyway = (args: string[]) =>
  runProcess(process.execPath, [KEYWAY_BIN, ...args], { ...process.env, KEYWAY_FROM_SOURCE: '1', KEYWAY_LOG_LEVEL: 'warn' });

describe('keyway backup and restore', () => {
  it('a backup taken while Keyway serves and writes restores to a working instance: same data, same runner, credentials readable', async () => {
    const source = mkdtempSync(join(tmpdir(), 'keyway-backup-src-'));
    const backup = join(mkdtempSync(join(tmpdir(), 'keyway-backup-')), 'b1');
    const restored = join(mkdtempSync(join(tmpdir(), 'keyway-backup-dst-')), 'data');
    const secret = `canary-${randomUUID()}`;
    let credentialId: string;
    let localRunner: string;

    const first = startCli(['start', '--port', '0', '--data-dir', source], { KEYWAY_LOG_LEVEL: 'warn' });
    try {
      const admin = await signInAsAdmin(first);
      const write = admin.post;
      assert.equal((await write('/api/v1/projects', { name: 'Before backup' })).status, 201);
      localRunner = await localRunnerId(admin);

      // A credential in the runner store, encrypted under the instance's data key, written while it serves.
      credentialId = await withRunnerCredentials({ KEYWAY_DATA_DIR: source }, (credentials) => insertCanaryCredential(credentials, secret));

      // Writes keep coming while the backup runs.
      let writing = true;
      let written = 0;
      const writer = (async () => {
        while (writing) {
          const res = await write('/api/v1/projects', { name: `During ${written}` });
          assert.equal(res.status, 201);
          written++;
          // Paced under the per-address rate limit (600 a minute), however long the backup takes.
          await new Promise((resolve) => setTimeout(resolve, 120));
        }
      })();
      const result = await keyway(['backup', '--to', backup, '--data-dir', source]);
      writing = false;
      await writer;
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /backup complete: 5 file\(s\)/);
      assert.ok(written > 0, 'projects were created during the backup');
      assert.equal(statSync(backup).mode & 0o777, 0o700);
      const manifest = JSON.parse(readFileSync(join(backup, 'keyway-backup.json'), 'utf8')) as { files: { name: string; role: string }[] };
      assert.deepEqual(manifest.files.map((f) => f.role).sort(), [
        'encryption-keys',
        'management-database',
        'runner-database',
        'runner-key',
        'runner-registration',
      ]);
      for (const f of manifest.files) assert.equal(statSync(join(backup, f.name)).mode & 0o777, 0o600, f.name);
    } finally {
      await first.stop();
    }

    const restore = await keyway(['restore', '--from', backup, '--data-dir', restored]);
    assert.equal(restore.status, 0, restore.stderr);
    const second = startCli(['start', '--port', '0', '--data-dir', restored], { KEYWAY_LOG_LEVEL: 'warn' });
    try {
      const admin = await signInAsAdmin(second);
      assert.doesNotMatch(second.output(), /had been revoked|registered a new/);
      const projects = ((await (await admin.get('/api/v1/projects')).json()) as { projects: { name: string }[] }).projects.map(
        (p) => p.name,
      );
      assert.ok(projects.includes('Before backup'));
      const runner = (await (await admin.get(`/api/v1/runners/${localRunner}`)).json()) as { status: string };
      assert.equal(runner.status, 'online', 'the restored instance runs the same local runner');
    } finally {
      await second.stop();
    }
    assert.equal(await withRunnerCredentials({ KEYWAY_DATA_DIR: restored }, (credentials) => credentials.readSecret(credentialId)), secret);
  });

  it('refuses to restore over existing data, a damaged backup, or into a non-empty backup directory', async () => {
    const source = mkdtempSync(join(tmpdir(), 'keyway-backup-src-'));
    const migrate = await keyway(['migrate', '--data-dir', source]);
    assert.equal(migrate.status, 0, migrate.stderr);
    const backup = join(mkdtempSync(join(tmpdir(), 'keyway-backup-')), 'b');
    assert.equal((await keyway(['backup', '--to', backup, '--data-dir', source])).status, 0);
    const again = await keyway(['backup', '--to', backup, '--data-dir', source]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /is not empty/);
    const over = await keyway(['restore', '--from', backup, '--data-dir', source]);
    assert.equal(over.status, 2);
    assert.match(over.stderr, /exists: restore into a new data directory/);
    writeFileSync(join(backup, 'management.db'), 'damaged');
    const damaged = await keyway(['restore', '--from', backup, '--data-dir', join(source, 'elsewhere')]);
    assert.equal(damaged.status, 2);
    assert.match(damaged.stderr, /management\.db .* does not match its checksum/);
  });
});
