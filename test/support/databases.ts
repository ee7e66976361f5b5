import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/database.ts';
import type { Database, DatabaseKind } from '../../src/db/database.ts';

export const POSTGRES_URL = process.env.KEYWAY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let postgresAvailable: Promise<boolean> | undefined;

/** Whether the local PostgreSQL answers. Under CI=true a missing PostgreSQL is a failure, not a skip. */
export function isPostgresAvailable(): Promise<boolean> {
  postgresAvailable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return postgresAvailable;
}

export interface TestDatabase<DB> extends Database<DB> {
  /** A URL another process can open to reach the same data (same file, or same schema). */
  url: string;
  schema?: string;
}

/**
 * Opens a fresh, empty database of the given kind. SQLite gets a temp file; PostgreSQL gets its
 * own schema, dropped on close, so tests can run in parallel against the one local server.
 */
export async function openTestDatabase<DB>(kind: DatabaseKind): Promise<TestDatabase<DB>> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'keyway-db-'));
    const url = `sqlite:${join(dir, 'test.db')}`;
    const database = await openDatabase<DB>(url);
    return {
      ...database,
      url,
      close: async () => {
        await database.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const database = await openDatabase<DB>(POSTGRES_URL, { schema });
  return {
    ...database,
    url: POSTGRES_URL,
    schema,
    close: async () => {
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(database.db).catch(() => undefined);
      await database.close();
    },
  };
}

/**
 * The kinds a store suite runs against: always SQLite; PostgreSQL when it answers, and under
 * CI=true also when it does not (so the suite fails loudly instead of silently skipping).
 */
export async function databaseKinds(): Promise<{ kind: DatabaseKind; skip: string | false }[]> {
  const pgUp = await isPostgresAvailable();
  const ci = process.env.CI === 'true';
  return [
    { kind: 'sqlite', skip: false },
    {
      kind: 'postgres',
      skip:
        pgUp || ci
          ? false
          : `PostgreSQL is not reachable at ${new URL(POSTGRES_URL).host}; start it or set KEYWAY_TEST_POSTGRES_URL (CI=true makes this a failure)`,
    },
  ];
}
