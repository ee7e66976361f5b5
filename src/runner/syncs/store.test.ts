import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addKey } from '../../crypto/index.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { runnerMigrations } from '../../db/migrations/runner/index.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { databaseKinds, openTestDatabase } from '../../../test/support/databases.ts';
import type { TestDatabase } from '../../../test/support/databases.ts';
import { createFieldCrypto } from '../keys/field-crypto.ts';
import { checkKeysAgainstStore, openKeyringSource } from '../keys/keyring-source.ts';
import type { KeyringSource } from '../keys/keyring-source.ts';
import { reencryptAll } from '../keys/rotation.ts';
import { createSyncStore } from './store.ts';

const SECRET = `sv-${Math.random().toString(36).slice(2)}-value`;

for (const { kind, skip } of await databaseKinds()) {
  describe(`sync store on the runner (${kind})`, { skip }, () => {
    let database: TestDatabase<RunnerDB>;
    let keys: KeyringSource;

    before(async () => {
      database = await openTestDatabase<RunnerDB>(kind);
      await migrateToLatest(database.db, runnerMigrations);
      keys = await openKeyringSource({ dataDir: mkdtempSync(join(tmpdir(), 'keyway-sync-keys-')) });
      await checkKeysAgainstStore(database.db, keys.current());
    });
    after(async () => database?.close());

    it('replaces and merges a set; values are encrypted per row, never in clear', async () => {
      const store = createSyncStore(database.db, createFieldCrypto(keys));
      await store.replace('sync_a', [
        { name: 'A', value: '1', isSecret: false },
        { name: 'S', value: SECRET, isSecret: true },
      ]);
      await store.merge(
        'sync_a',
        [
          { name: 'b', value: '2', isSecret: false },
          { name: 'a', value: 'changed', isSecret: false },
        ],
        ['S'],
      );
      assert.deepEqual(await store.variables('sync_a'), [
        { name: 'a', isSecret: false, value: 'changed' },
        { name: 'b', isSecret: false, value: '2' },
      ]);
      await store.merge('sync_a', [{ name: 'S', value: SECRET, isSecret: true }], []);
      const raw = await database.db.selectFrom('sync_variables').selectAll().execute();
      assert.ok(!JSON.stringify(raw).includes(SECRET));
      assert.deepEqual(await store.declared('sync_a'), [
        { name: 'a', isSecret: false },
        { name: 'b', isSecret: false },
        { name: 'S', isSecret: true },
      ]);
    });

    it('a failed change leaves the previous set whole', async () => {
      const store = createSyncStore(database.db, createFieldCrypto(keys));
      await store.replace('sync_b', [{ name: 'KEEP', value: 'k', isSecret: false }]);
      // Two rows with one name break the unique index half-way through the transaction.
      await assert.rejects(
        store.replace('sync_b', [
          { name: 'X', value: '1', isSecret: false },
          { name: 'x', value: '2', isSecret: false },
        ]),
      );
      assert.deepEqual(await store.variables('sync_b'), [{ name: 'KEEP', isSecret: false, value: 'k' }]);
    });

    it('digests are stable per sync and name, differ across syncs, and survive a new store instance', async () => {
      const one = createSyncStore(database.db, createFieldCrypto(keys));
      const d1 = await one.digest('sync_a', 'S', SECRET);
      assert.equal(await one.digest('sync_a', 's', SECRET), d1, 'names are case-insensitive');
      assert.notEqual(await one.digest('sync_b', 'S', SECRET), d1);
      assert.notEqual(await one.digest('sync_a', 'S', `${SECRET}x`), d1);
      const two = createSyncStore(database.db, createFieldCrypto(keys));
      assert.equal(await two.digest('sync_a', 'S', SECRET), d1);
      assert.ok(!d1.includes(SECRET));
    });

    it('key rotation re-encrypts variable values and the digest key', async () => {
      const store = createSyncStore(database.db, createFieldCrypto(keys));
      const digest = await store.digest('sync_a', 'S', SECRET);
      const rotated = await addKey(keys.file ?? '');
      await checkKeysAgainstStore(database.db, rotated);
      const results = await reencryptAll(database.db, rotated);
      const byTable = Object.fromEntries(results.map((r) => [r.table, r.reencrypted]));
      assert.ok((byTable.sync_variables ?? 0) >= 3, JSON.stringify(results));
      assert.equal(byTable.runner_secrets, 1);
      for (const row of await database.db.selectFrom('sync_variables').select('value').execute())
        assert.match(row.value, new RegExp(`^kw1\\.${rotated.primaryId}\\.`));
      const fresh = createSyncStore(database.db, createFieldCrypto(keys));
      assert.equal(await fresh.digest('sync_a', 'S', SECRET), digest);
      assert.equal((await fresh.variables('sync_a')).find((v) => v.name === 'S')?.value, SECRET);
    });

    it('state round-trips; forget drops values and state', async () => {
      const store = createSyncStore(database.db, createFieldCrypto(keys));
      const state = {
        syncId: 'sync_a',
        target: { organization: 'o', project: 'p', groupName: 'g' },
        projectId: 'pid',
        groupId: 7,
        owned: ['a', 's'],
        digests: { s: 'd' },
        groupOrigin: 'adopted' as const,
        written: ['a', 's', 'taken'],
      };
      await store.saveState(state);
      await store.saveState({ ...state, groupId: 8 });
      assert.deepEqual(await store.state('sync_a'), { ...state, groupId: 8 });
      await store.saveState({ ...state, groupOrigin: null });
      assert.equal((await store.state('sync_a'))?.groupOrigin, null);
      await store.forget('sync_a');
      assert.equal(await store.state('sync_a'), undefined);
      assert.deepEqual(await store.variables('sync_a'), []);
    });
  });
}
