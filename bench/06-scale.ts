// Benchmark 6: scale. The hot path (a valid cached token for a user) with 1,000 and then 100,000
// users' authorizations in a PostgreSQL runner store: p50/p99 of getAccessToken must stay flat.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { encryptField } from '../src/crypto/index.ts';
import type { RunnerDB } from '../src/db/runner-schema.ts';
import { POSTGRES_URL, isPostgresAvailable } from '../test/support/databases.ts';
import { lowerIsBetter, notAvailable, nowMs, summarize } from './lib.ts';
import type { BenchOptions, BenchResult, Benchmark, Figure } from './lib.ts';
import { openRunnerPieces, randomEncryptionKeys, servicesIntegration } from './support/runner-fixture.ts';
import type { RunnerPieces } from './support/runner-fixture.ts';

const ID = '6';
const TITLE = 'Scale: hot-path latency with 1,000 vs 100,000 authorizations (PostgreSQL)';
const INTEGRATION = 'int_scale';
const BATCH = 1000;
const PERCENTILES = ['p50', 'p99'] as const;

async function seed(pieces: RunnerPieces, from: number, to: number): Promise<void> {
  const keyring = pieces.store.keys.current();
  const now = new Date().toISOString();
  const valid = new Date(Date.now() + 24 * 3600_000).toISOString();
  for (let start = from; start < to; start += BATCH) {
    const rows: RunnerDB['credentials'][] = [];
    for (let i = start; i < Math.min(to, start + BATCH); i++) {
      const id = `cred_scale_${i}`;
      // Realistic sizes: an Entra access token is ~1.5–2.5 KB, the refresh token ~1 KB.
      const tokenSet = JSON.stringify({
        access_token: `at-${i}-${randomBytes(900).toString('base64url')}`,
        refresh_token: `rt-${i}-${randomBytes(600).toString('base64url')}`,
      });
      rows.push({
        id,
        subject_type: 'user',
        subject_id: `user_${i}`,
        integration_id: INTEGRATION,
        host: 'dev.azure.com',
        method: 'oauth',
        secret: encryptField(keyring, tokenSet, { table: 'credentials', column: 'secret', rowId: id }),
        metadata: JSON.stringify({
          issuer: 'https://login.microsoftonline.com/t/v2.0',
          clientId: 'c',
          scopes: ['openid', 'offline_access'],
          accessTokenExpiresAt: valid,
          upn: `user${i}@example.test`,
        }),
        status: 'active',
        created_at: now,
        updated_at: now,
        expires_at: null,
        last_used_at: null,
        version: 1,
        lease_owner: null,
        lease_until: null,
      });
    }
    await pieces.store.database.db.insertInto('credentials').values(rows).execute();
  }
  await sql`analyze credentials`.execute(pieces.store.database.db);
}

/**
 * Samples both stores in alternating slices, so whatever else the machine is doing at a moment
 * (other engineers' tests, autovacuum) lands on both sizes alike.
 */
async function measure(stores: { pieces: RunnerPieces; users: number }[], samples: number) {
  const services = stores.map((s) => ({ ...s, tokens: s.pieces.tokens(), latencies: [] as number[] }));
  const pick = (users: number) => `user_${Math.floor(Math.random() * users)}`;
  for (const s of services) for (let i = 0; i < 200; i++) await s.tokens.getAccessToken(pick(s.users), INTEGRATION);
  const slice = 100;
  for (let done = 0; done < samples; done += slice) {
    for (const s of services) {
      for (let i = 0; i < slice; i++) {
        const start = nowMs();
        await s.tokens.getAccessToken(pick(s.users), INTEGRATION);
        s.latencies.push(nowMs() - start);
      }
    }
  }
  return services.map((s) => summarize(s.latencies));
}

function emptyStore(schema: string) {
  return openRunnerPieces({
    storeUrl: POSTGRES_URL,
    schema,
    encryptionKeys: randomEncryptionKeys(),
    privateKey: '',
    integration: { ...servicesIntegration(INTEGRATION), patEnabled: false },
  });
}

export const benchmark: Benchmark = {
  id: ID,
  title: TITLE,
  async run(options: BenchOptions): Promise<BenchResult> {
    if (!(await isPostgresAvailable())) return notAvailable(ID, TITLE, `PostgreSQL is not reachable at ${new URL(POSTGRES_URL).host}`);
    const small = 1_000;
    const large = options.short ? 20_000 : 100_000;
    const samples = options.short ? 1_000 : 5_000;
    const schemas = [`bench_scale_${randomBytes(4).toString('hex')}`, `bench_scale_${randomBytes(4).toString('hex')}`];
    const smallStore = await emptyStore(schemas[0]!);
    const largeStore = await emptyStore(schemas[1]!).catch(async (err: unknown) => {
      await sql`drop schema if exists ${sql.id(schemas[0]!)} cascade`.execute(smallStore.store.database.db).catch(() => undefined);
      await smallStore.close();
      throw err;
    });
    try {
      await seed(smallStore, 0, small);
      const started = nowMs();
      await seed(largeStore, 0, large);
      const seedLarge = nowMs() - started;
      const [atSmall, atLarge] = (await measure(
        [
          { pieces: smallStore, users: small },
          { pieces: largeStore, users: large },
        ],
        samples,
      )) as [ReturnType<typeof summarize>, ReturnType<typeof summarize>];
      options.log(
        `  seeded ${large} rows in ${(seedLarge / 1000).toFixed(1)} s (batches of ${BATCH}, each secret encrypted for its row); ${samples} sequential requests per size, random users, sizes sampled alternately`,
      );
      const label = `at ${small.toLocaleString('en')}`;
      return {
        id: ID,
        title: TITLE,
        figures: [
          ...PERCENTILES.map((p): Figure => ({
            name: `getAccessToken ${p} at ${small.toLocaleString('en')} authorizations`,
            value: atSmall[p],
            unit: 'ms',
            kind: 'info',
          })),
          ...PERCENTILES.map((p) =>
            lowerIsBetter(
              `getAccessToken ${p} at ${large.toLocaleString('en')} authorizations`,
              atLarge[p],
              'ms',
              { value: atSmall[p], label },
              1.5,
            ),
          ),
          { name: 'seeding rate', value: large / (seedLarge / 1000), unit: 'rows/s', kind: 'info' },
        ],
        notes: [
          '"Flat" is read as: the larger store costs at most 1.5× the smaller at p50 and p99 (index lookups; noise on a shared machine is larger than that at p99).',
        ],
      };
    } finally {
      for (const [i, store] of [smallStore, largeStore].entries()) {
        await sql`drop schema if exists ${sql.id(schemas[i]!)} cascade`.execute(store.store.database.db).catch(() => undefined);
        await store.close();
      }
    }
  },
};
