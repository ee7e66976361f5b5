import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { DecryptionError, KeyConfigError, addKey } from '../../crypto/index.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { runnerMigrations } from '../../db/migrations/runner/index.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { databaseKinds, openTestDatabase } from '../../../test/support/databases.ts';
import type { TestDatabase } from '../../../test/support/databases.ts';
import { createCredentialStore } from '../credentials/store.ts';
import { createFieldCrypto } from './field-crypto.ts';
import { checkKeysAgainstStore, openKeyringSource } from './keyring-source.ts';
import type { KeyringSource } from './keyring-source.ts';
import { reencryptAll } from './rotation.ts';

const CANARY = `canary-${Math.random().toString(36).slice(2)}-secret`;

for (const { kind, skip } of await databaseKinds()) {
  describe(`runner store encryption at rest (${kind})`, { skip }, () => {
    let database: TestDatabase<RunnerDB>;
    let dataDir: string;
    let keys: KeyringSource;

    before(async () => {
      database = await openTestDatabase<RunnerDB>(kind);
      await migrateToLatest(database.db, runnerMigrations);
      dataDir = mkdtempSync(join(tmpdir(), 'keyway-keys-'));
      keys = await openKeyringSource({ dataDir });
      await checkKeysAgainstStore(database.db, keys.current());
    });
    after(async () => database?.close());

    it('creates the key file with mode 0600 and reuses it', async () => {
      assert.ok(keys.file);
      assert.equal(statSync(keys.file).mode & 0o777, 0o600);
      const again = await openKeyringSource({ dataDir });
      assert.equal(again.created, false);
      assert.equal(again.current().primaryId, keys.current().primaryId);
    });

    it('round-trips a secret and never stores it in clear', async () => {
      const store = createCredentialStore(database.db, createFieldCrypto(keys));
      const record = await store.insert({ subject: { type: 'user', id: 'usr_1' }, host: 'dev.azure.com', method: 'pat', secret: CANARY });
      assert.equal(await store.readSecret(record.id), CANARY);
      const raw = await database.db.selectFrom('credentials').selectAll().where('id', '=', record.id).executeTakeFirstOrThrow();
      assert.ok(!JSON.stringify(raw).includes(CANARY));
      assert.match(raw.secret, new RegExp(`^kw1\\.${keys.current().primaryId}\\.`));
    });

    it('refuses a tampered ciphertext with a clear error', async () => {
      const store = createCredentialStore(database.db, createFieldCrypto(keys));
      const record = await store.insert({
        subject: { type: 'user', id: 'usr_2' },
        host: 'dev.azure.com',
        method: 'pat',
        secret: 'tamper-me',
      });
      const raw = await database.db.selectFrom('credentials').select('secret').where('id', '=', record.id).executeTakeFirstOrThrow();
      const parts = raw.secret.split('.');
      const body = parts[3] ?? '';
      parts[3] = (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
      await database.db
        .updateTable('credentials')
        .set({ secret: parts.join('.') })
        .where('id', '=', record.id)
        .execute();
      await assert.rejects(
        store.readSecret(record.id),
        (err: unknown) => err instanceof DecryptionError && err.reason === 'tampered-or-wrong-context',
      );
    });

    it('refuses a ciphertext moved to another row', async () => {
      const store = createCredentialStore(database.db, createFieldCrypto(keys));
      const a = await store.insert({ subject: { type: 'user', id: 'usr_a' }, host: 'dev.azure.com', method: 'pat', secret: 'secret-of-a' });
      const b = await store.insert({ subject: { type: 'user', id: 'usr_b' }, host: 'dev.azure.com', method: 'pat', secret: 'secret-of-b' });
      const rawA = await database.db.selectFrom('credentials').select('secret').where('id', '=', a.id).executeTakeFirstOrThrow();
      await database.db.updateTable('credentials').set({ secret: rawA.secret }).where('id', '=', b.id).execute();
      await assert.rejects(
        store.readSecret(b.id),
        (err: unknown) =>
          err instanceof DecryptionError && err.reason === 'tampered-or-wrong-context' && /credentials\.secret/.test(err.message),
      );
    });

    it('stops start-up with a clear error when the key file holds a different key', async () => {
      const otherDir = mkdtempSync(join(tmpdir(), 'keyway-keys-wrong-'));
      const wrong = await openKeyringSource({ dataDir: otherDir });
      // Same key id as the database knows, different bytes: a restored-from-the-wrong-backup mistake.
      assert.equal(wrong.current().primaryId, keys.current().primaryId);
      await assert.rejects(
        checkKeysAgainstStore(database.db, wrong.current()),
        (err: unknown) => err instanceof KeyConfigError && /does not match/.test(err.message),
      );
    });

    it('rotates: a new primary key, every record readable and re-encrypted, while a reader keeps serving', async () => {
      const serving = createFieldCrypto(keys);
      const store = createCredentialStore(database.db, serving);
      const secrets = new Map<string, string>();
      for (let i = 0; i < 120; i++) {
        const secret = `rotation-secret-${i}-${CANARY}`;
        const record = await store.insert({ subject: { type: 'user', id: `usr_rot_${i}` }, host: 'dev.azure.com', method: 'pat', secret });
        secrets.set(record.id, secret);
      }
      // Rows damaged earlier in this suite are not ours to rotate.
      await database.db
        .deleteFrom('credentials')
        .where('id', 'not in', [...secrets.keys()])
        .execute();
      const oldPrimary = keys.current().primaryId;

      // Another process (keyway keys rotate) adds the key to the file and re-encrypts.
      const file = keys.file ?? '';
      const rotatedKeyring = await addKey(file);
      await checkKeysAgainstStore(database.db, rotatedKeyring);
      assert.notEqual(rotatedKeyring.primaryId, oldPrimary);

      let readsDuringRotation = 0;
      const reader = (async () => {
        for (const [id, secret] of secrets) {
          assert.equal(await store.readSecret(id), secret);
          readsDuringRotation++;
        }
      })();
      const results = await reencryptAll(database.db, rotatedKeyring, { batchSize: 25 });
      await reader;
      assert.equal(readsDuringRotation, secrets.size);
      assert.equal(
        results.reduce((n, r) => n + r.reencrypted, 0),
        secrets.size,
      );

      const rows = await database.db.selectFrom('credentials').select(['id', 'secret']).execute();
      for (const row of rows) assert.match(row.secret, new RegExp(`^kw1\\.${rotatedKeyring.primaryId}\\.`));
      // The serving process had only the old key loaded; it reloads the file on the unknown key id.
      for (const [id, secret] of secrets) assert.equal(await store.readSecret(id), secret);
      assert.equal(keys.current().primaryId, rotatedKeyring.primaryId);

      const second = await reencryptAll(database.db, rotatedKeyring);
      assert.equal(
        second.reduce((n, r) => n + r.reencrypted, 0),
        0,
        'a second run has nothing to do',
      );
    });

    it('a key file loosened to group-readable is refused', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'keyway-keys-mode-'));
      const source = await openKeyringSource({ dataDir: dir });
      const file = source.file ?? '';
      writeFileSync(file, readFileSync(file), { mode: 0o644 });
      const { chmodSync } = await import('node:fs');
      chmodSync(file, 0o644);
      await assert.rejects(openKeyringSource({ dataDir: dir }), (err: unknown) => err instanceof KeyConfigError);
    });

    it('migrations are idempotent', async () => {
      const applied = await migrateToLatest(database.db, runnerMigrations);
      assert.deepEqual(applied, []);
      const tables =
        kind === 'sqlite'
          ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(database.db)
          : await sql<{
              name: string;
            }>`select table_name as name from information_schema.tables where table_schema = ${database.schema ?? ''}`.execute(database.db);
      const names = tables.rows.map((r) => r.name);
      for (const t of ['credentials', 'key_checks']) assert.ok(names.includes(t), `${t} exists`);
    });
  });
}
