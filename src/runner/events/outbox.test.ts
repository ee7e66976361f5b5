import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds, openTestDatabase } from '../../../test/support/databases.ts';
import { migrateToLatest } from '../../db/migrate.ts';
import { runnerMigrations } from '../../db/migrations/runner/index.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { createLogger } from '../../logging/logger.ts';
import type { RunnerEvent } from '../../control/runner-events.ts';
import { scrubDetails } from '../../management/audit/service.ts';
import { createEventOutbox } from './outbox.ts';

const silent = createLogger('silent');

for (const { kind, skip } of await databaseKinds()) {
  describe(`the runner's outbox of audit events (${kind})`, { skip }, () => {
    it('keeps events while the management plane refuses them, delivers them later, and sends each once across two replicas', async () => {
      const store = await openTestDatabase<RunnerDB>(kind);
      try {
        await migrateToLatest(store.db, runnerMigrations);
        let up = false;
        const received: RunnerEvent[] = [];
        const send = async (batch: RunnerEvent[]) => {
          if (!up) throw new Error('management plane unavailable');
          // Slow enough that both replicas try at the same time.
          await new Promise((r) => setTimeout(r, 20));
          received.push(...batch);
        };
        const a = createEventOutbox({ db: store.db, send, logger: silent, owner: 'a', retryMs: 20 });
        const b = createEventOutbox({ db: store.db, send, logger: silent, owner: 'b', retryMs: 20 });
        a.start();
        b.start();
        for (let i = 0; i < 150; i++)
          (i % 2 ? a : b).record({ action: 'credentials.purged', outcome: 'success', userId: `usr_${i}`, details: { count: i } });
        await Promise.all([a.flush(), b.flush()]);
        assert.equal(received.length, 0);
        assert.equal((await store.db.selectFrom('runner_events').select('id').execute()).length, 150, 'kept while undeliverable');
        up = true;
        await Promise.all([a.flush(), b.flush()]);
        for (let i = 0; i < 50 && received.length < 150; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(received.length, 150);
        assert.equal(new Set(received.map((e) => e.id)).size, 150, 'no event sent twice');
        assert.deepEqual(await store.db.selectFrom('runner_events').select('id').execute(), [], 'delivered events are gone');
        assert.equal(received.find((e) => e.userId === 'usr_7')?.details?.count, 7);
        await a.stop();
        await b.stop();
      } finally {
        await store.close();
      }
    });
  });
}

describe('audit details', () => {
  it('redact values under secret-sounding keys, but never flags or counts', () => {
    assert.deepEqual(
      scrubDetails({ pat: true, clearedSecrets: 2, token: 'abc', clientSecret: 'x', nested: { password: 'p', secrets: 0 }, sealed: null }),
      {
        pat: true,
        clearedSecrets: 2,
        token: '[redacted]',
        clientSecret: '[redacted]',
        nested: { password: '[redacted]', secrets: 0 },
        sealed: null,
      },
    );
  });
});
