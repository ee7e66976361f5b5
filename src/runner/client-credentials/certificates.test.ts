// The runner's certificate store on both databases: the private key only as ciphertext bound to its
// row, re-encrypted by a data key rotation (which names the column it walked), one active and one
// next per owner whichever replica makes them, promotion once, an expired active certificate giving
// way to the next one, and a revoked runner's purge deleting them all (and counting them).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { compactVerify, CompactSign } from 'jose';
import { addKey } from '../../crypto/index.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { runnerMigrations } from '../../db/migrations/runner/index.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { createLogger } from '../../logging/logger.ts';
import { databaseKinds, openTestDatabase } from '../../../test/support/databases.ts';
import type { TestDatabase } from '../../../test/support/databases.ts';
import { LogCapture } from '../../../test/support/management.ts';
import { createFieldCrypto } from '../keys/field-crypto.ts';
import { checkKeysAgainstStore, openKeyringSource } from '../keys/keyring-source.ts';
import type { KeyringSource } from '../keys/keyring-source.ts';
import { reencryptAll } from '../keys/rotation.ts';
import { purgeAfterRevocation } from '../revocation.ts';
import { createCertificateStore } from './certificates.ts';

for (const { kind, skip } of await databaseKinds()) {
  describe(`runner-born certificates at rest (${kind})`, { skip }, () => {
    let database: TestDatabase<RunnerDB>;
    let keys: KeyringSource;
    const owner = { type: 'integration' as const, id: 'int_store_test' };

    before(async () => {
      database = await openTestDatabase<RunnerDB>(kind);
      await migrateToLatest(database.db, runnerMigrations);
      keys = await openKeyringSource({ dataDir: mkdtempSync(join(tmpdir(), 'keyway-cert-keys-')) });
      await checkKeysAgainstStore(database.db, keys.current());
    });
    after(async () => database?.close());

    const store = (now?: () => Date) =>
      createCertificateStore({ db: database.db, crypto: createFieldCrypto(keys), ...(now ? { now } : {}) });

    async function signsWith(id: string, s = store()): Promise<void> {
      const signer = await s.signerFor(owner, id);
      assert.ok(signer);
      const jws = await new CompactSign(new TextEncoder().encode('payload')).setProtectedHeader({ alg: 'PS256' }).sign(signer.key);
      const row = await database.db.selectFrom('client_certificates').select('certificate').where('id', '=', id).executeTakeFirstOrThrow();
      await compactVerify(jws, createPublicKey(row.certificate));
    }

    it('keeps the private key only as ciphertext bound to its row; the certificate and thumbprints are public', async () => {
      const active = await store().ensureActive(owner, 'Keyway integration int_store_test');
      assert.equal((await store().ensureActive(owner, 'again')).id, active.id, 'one active certificate per owner');
      const raw = await database.db.selectFrom('client_certificates').selectAll().where('id', '=', active.id).executeTakeFirstOrThrow();
      assert.match(raw.private_key, new RegExp(`^kw1\\.${keys.current().primaryId}\\.`));
      assert.ok(!JSON.stringify(raw).includes('PRIVATE KEY'));
      assert.match(raw.certificate, /BEGIN CERTIFICATE/);
      await signsWith(active.id);

      // The ciphertext moved to another row does not open there.
      const other = await store().ensureActive({ type: 'app-connection', id: 'conn_other' }, 'other');
      await database.db.updateTable('client_certificates').set({ private_key: raw.private_key }).where('id', '=', other.id).execute();
      await assert.rejects(store().signerFor({ type: 'app-connection', id: 'conn_other' }, other.id));
      await store().deleteForOwner({ type: 'app-connection', id: 'conn_other' });
    });

    it('a data key rotation re-encrypts the private keys and says it walked client_certificates.private_key; signing goes on', async () => {
      const { id } = await store().ensureActive(owner, 'x');
      const rotated = await addKey(keys.file ?? '');
      await checkKeysAgainstStore(database.db, rotated);
      const results = await reencryptAll(database.db, rotated);
      const walked = results.find((r) => r.table === 'client_certificates' && r.column === 'private_key');
      assert.ok(walked, `rotation results: ${JSON.stringify(results)}`);
      assert.ok(walked.reencrypted >= 1);
      const raw = await database.db.selectFrom('client_certificates').select('private_key').where('id', '=', id).executeTakeFirstOrThrow();
      assert.match(raw.private_key, new RegExp(`^kw1\\.${rotated.primaryId}\\.`));
      await signsWith(id, store());
    });

    it('one next certificate whichever replica asks; promotion happens once and deletes the old key', async () => {
      // Several rounds: the race between two promotions depends on how their statements interleave.
      for (let round = 0; round < 8; round++) {
        const [a, b] = await Promise.all([store().prepareNext(owner, 'n'), store().prepareNext(owner, 'n')]);
        assert.equal(a.id, b.id, 'two replicas racing end with one next certificate');
        const before = await store().list(owner);
        assert.deepEqual(
          before.map((c) => c.status),
          ['active', 'next'],
        );
        const [first, second] = await Promise.all([store().promote(owner, a.id), store().promote(owner, a.id)]);
        assert.deepEqual([first, second].sort(), [false, true]);
        const after = await store().list(owner);
        assert.deepEqual(
          after.map((c) => [c.status, c.id]),
          [['active', a.id]],
          `round ${round}`,
        );
      }
    });

    it('an expired active certificate gives way to the next one when the runner signs; rotation is due 30 days ahead', async () => {
      const later = new Date(Date.now() + 400 * 86_400_000);
      const future = store(() => later);
      const active = (await future.list(owner))[0]!;
      assert.equal(future.dueForRotation(active), true);
      assert.equal(store().dueForRotation(active), false);
      const next = await store().prepareNext(owner, 'n2');
      const signer = await future.current(owner);
      assert.equal(signer?.id, next.id, 'the next certificate signs once the active one has expired');
      assert.deepEqual(
        (await store().list(owner)).map((c) => c.status),
        ['active'],
      );
    });

    it("a revoked runner's purge deletes every certificate and counts them", async () => {
      await store().ensureActive({ type: 'app-connection', id: 'conn_purge' }, 'p');
      const count = (await database.db.selectFrom('client_certificates').select('id').execute()).length;
      assert.ok(count >= 2);
      let reported: unknown;
      const outcome = await purgeAfterRevocation({
        db: database.db,
        report: async (r) => void (reported = r),
        logger: createLogger('silent', new LogCapture()),
      });
      assert.equal(outcome.report.clientCertificates, count);
      assert.equal((reported as { clientCertificates: number }).clientCertificates, count);
      assert.equal((await database.db.selectFrom('client_certificates').select('id').execute()).length, 0);
    });
  });
}
