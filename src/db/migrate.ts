import { Migrator, PostgresAdapter, sql } from 'kysely';
import type { Kysely, Migration, MigrationResultSet } from 'kysely';
import { retry } from '../http/retry.ts';

export interface MigrationSet {
  /** Distinct per store so two stores may share one database. */
  tableName: string;
  migrations: Record<string, Migration>;
}

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/** Applies every pending migration of the set; returns the names applied. */
export async function migrateToLatest<DB>(db: Kysely<DB>, set: MigrationSet): Promise<string[]> {
  // Kysely's migrator, without a schema, takes a migration table in *any* schema as its own, so
  // the second of two stores sharing a PostgreSQL database under different schemas (runner
  // replicas beside tests, or two instances) would skip creating its tables and fail. Name the
  // schema the connection works in.
  const schema =
    db.getExecutor().adapter instanceof PostgresAdapter
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => set.migrations },
    migrationTableName: set.tableName,
    migrationLockTableName: `${set.tableName}_lock`,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  // Kysely's migrator lists the tables of every schema to find its own (pg_get_serial_sequence on
  // each column); a schema another store drops meanwhile in a shared database fails that listing
  // with 3F000 naming that other schema. Nothing was applied: list again.
  const result = await retry(
    async () => {
      const attempt = await migrator.migrateToLatest();
      if (schema && isOtherSchemaDropped(attempt.error, schema)) throw new OtherSchemaDropped(attempt);
      return attempt;
    },
    // Up to four more listings, 50, 100, 150 and 200 ms apart.
    { attempts: 5, retryable: (e) => e instanceof OtherSchemaDropped, backoff: (n) => 50 * (n + 1) },
  ).catch((e: unknown) => {
    if (e instanceof OtherSchemaDropped) return e.result;
    throw e;
  });
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(`migration ${failed} failed: ${(result.error as Error).message ?? String(result.error)}`, {
      cause: result.error,
    });
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** A listing that failed because another store's schema went away meanwhile: worth listing again. */
class OtherSchemaDropped extends Error {
  constructor(readonly result: MigrationResultSet) {
    super('another schema was dropped while the migrator listed tables');
  }
}

/** PostgreSQL's "schema does not exist" (3F000) about a schema other than the store's own. */
function isOtherSchemaDropped(error: unknown, own: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === '3F000' && typeof message === 'string' && !message.includes(`"${own}"`);
}
