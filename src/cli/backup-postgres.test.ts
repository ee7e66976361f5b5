import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { KEYWAY_BIN, localRunnerId, runProcess, signInAsAdmin, startCli } from '../../test/support/cli.ts';
import { POSTGRES_URL, databaseKinds } from '../../test/support/databases.ts';
import { insertCanaryCredential, withRunnerCredentials } from '../../test/support/runner-credentials.ts';

// The README's "Backups" procedure for PostgreSQL, followed as written: pg_dump of each database,
// `keyway backup` for the key files, then into fresh databases with pg_restore and `keyway restore`
// for the key files, and a new instance on the result.

const run = (command: string, args: string[], env: Record<string, string> = {}) => runProcess(command, args, { ...process.env, ...env });

const keyway = (args: string[], env: Record<string, string>) =>
  run(process.execPath, [KEYWAY_BIN, ...args], { KEYWAY_FROM_SOURCE: '1', KEYWAY_LOG_LEVEL: 'warn', ...env });

/** Whole databases (not schemas): pg_dump and pg_restore work on databases, as an operator's would. */
async function withDatabases<T>(count: number, body: (urls: string[]) => Promise<T>): Promise<T> {
  const names = Array.from({ length: count }, (_, i) => `keyway_backup_${randomBytes(5).toString('hex')}_${i}`);
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    for (const name of names) await admin.query(`create database ${name}`);
    return await body(
      names.map((name) => {
        const url = new URL(POSTGRES_URL);
        url.pathname = `/${name}`;
        return url.toString();
      }),
    );
  } finally {
    // WITH (FORCE): a failed assertion may leave an instance's pool connected.
    for (const name of names) await admin.query(`drop database if exists ${name} with (force)`).catch(() => undefined);
    await admin.end();
  }
}

const postgres = (await databaseKinds()).filter((k) => k.kind === 'postgres');

for (const { skip } of postgres) {
  describe('Backups with PostgreSQL: pg_dump plus the key files, as the README says', { skip }, () => {
    it('restores into new databases and a new data directory: same data, same runner, credentials readable', async () => {
      const temp = mkdtempSync(join(tmpdir(), 'keyway-pg-backup-'));
      try {
        await withDatabases(4, async ([sourceManagement, sourceRunner, restoredManagement, restoredRunner]) => {
          const source = join(temp, 'source');
          const keys = join(temp, 'keys');
          const restored = join(temp, 'restored');
          const sourceEnv = { KEYWAY_DATABASE_URL: sourceManagement!, KEYWAY_RUNNER_DATABASE_URL: sourceRunner! };
          const restoredEnv = { KEYWAY_DATABASE_URL: restoredManagement!, KEYWAY_RUNNER_DATABASE_URL: restoredRunner! };
          const secret = `canary-${randomUUID()}`;
          let credentialId: string;
          let localRunner: string;

          const first = startCli(['start', '--port', '0', '--data-dir', source], { KEYWAY_LOG_LEVEL: 'warn', ...sourceEnv });
          try {
            const admin = await signInAsAdmin(first);
            const created = await admin.post('/api/v1/projects', { name: 'Before backup' });
            assert.equal(created.status, 201);
            localRunner = await localRunnerId(admin);

            // A credential in the runner's PostgreSQL store, encrypted under the instance's data key.
            credentialId = await withRunnerCredentials({ KEYWAY_DATA_DIR: source, ...sourceEnv }, (credentials) =>
              insertCanaryCredential(credentials, secret),
            );

            // The documented commands, while Keyway serves (pg_dump takes a consistent snapshot).
            for (const [file, database] of [
              ['keyway-management.dump', sourceManagement!],
              ['keyway-runner.dump', sourceRunner!],
            ] as const) {
              const dump = await run('pg_dump', ['--format=custom', `--file=${join(temp, file)}`, database]);
              assert.equal(dump.status, 0, dump.stderr);
            }
            const backup = await keyway(['backup', '--to', keys, '--data-dir', source], sourceEnv);
            assert.equal(backup.status, 0, backup.stderr);
            assert.match(backup.stdout, /management-database: PostgreSQL, not included; back it up with pg_dump/);
            assert.match(backup.stdout, /runner-database: PostgreSQL, not included; back it up with pg_dump/);
            const manifest = JSON.parse(readFileSync(join(keys, 'keyway-backup.json'), 'utf8')) as { files: { role: string }[] };
            assert.deepEqual(manifest.files.map((f) => f.role).sort(), ['encryption-keys', 'runner-key', 'runner-registration']);
          } finally {
            await first.stop();
          }

          // Restore: each dump into its new database, then the key files into a new data directory.
          for (const [file, database] of [
            ['keyway-management.dump', restoredManagement!],
            ['keyway-runner.dump', restoredRunner!],
          ] as const) {
            const restore = await run('pg_restore', ['--clean', '--if-exists', `--dbname=${database}`, join(temp, file)]);
            assert.equal(restore.status, 0, restore.stderr);
          }
          const restoreKeys = await keyway(['restore', '--from', keys, '--data-dir', restored], restoredEnv);
          assert.equal(restoreKeys.status, 0, restoreKeys.stderr);

          const second = startCli(['start', '--port', '0', '--data-dir', restored], { KEYWAY_LOG_LEVEL: 'warn', ...restoredEnv });
          try {
            const admin = await signInAsAdmin(second);
            assert.doesNotMatch(second.output(), /had been revoked|registered a new|created a new encryption key/);
            const projects = ((await (await admin.get('/api/v1/projects')).json()) as { projects: { name: string }[] }).projects.map(
              (p) => p.name,
            );
            assert.ok(projects.includes('Before backup'), `restored projects: ${projects.join(', ')}`);
            const runner = (await (await admin.get(`/api/v1/runners/${localRunner}`)).json()) as { status: string };
            assert.equal(runner.status, 'online', 'the restored instance runs the same local runner');
          } finally {
            await second.stop();
          }
          assert.equal(
            await withRunnerCredentials({ KEYWAY_DATA_DIR: restored, ...restoredEnv }, (credentials) =>
              credentials.readSecret(credentialId),
            ),
            secret,
          );
        });
      } finally {
        rmSync(temp, { recursive: true, force: true });
      }
    });
  });
}
