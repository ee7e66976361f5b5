import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { POSTGRES_URL, databaseKinds } from '../../../test/support/databases.ts';
import type { DatabaseKind } from '../database.ts';
import type { MigrationSet } from '../migrate.ts';
import { managementMigrations } from './management/index.ts';
import { runnerMigrations } from './runner/index.ts';

// Migrations are history: a refactoring of their code must leave what they do unchanged. This
// runs every migration of both stores on SQLite and on PostgreSQL and compares, against a snapshot
// taken from the migrations as they were first written, (1) each statement every migration sends,
// to the letter, (2) the schema that results (sqlite_master; PostgreSQL's columns, indexes and
// constraints) and (3) what each down() sends, from the latest back. KEYWAY_UPDATE_SCHEMA_SNAPSHOT=1 rewrites the snapshot (only for a new migration).

const SNAPSHOT = new URL('./schema-snapshot.json', import.meta.url);
const sets: Record<string, MigrationSet> = { management: managementMigrations, runner: runnerMigrations };

interface Snapshot {
  /** Per migration, the statements it sent, with their parameters. */
  statements: Record<string, { sql: string; parameters: readonly unknown[] }[]>;
  /** Per migration, from the latest back, what its down() sent, until one refuses (its message). */
  reverted: Record<string, { sql: string; parameters: readonly unknown[] }[] | string>;
  schema: unknown;
}

type Stored = Record<string, Partial<Record<DatabaseKind, Snapshot>>>;

function readSnapshot(): Stored {
  try {
    return JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Stored;
  } catch {
    return {};
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
async function migrate(db: Kysely<any>, set: MigrationSet, log: { sql: string; parameters: readonly unknown[] }[]) {
  const statements: Snapshot['statements'] = {};
  for (const [name, migration] of Object.entries(set.migrations)) {
    log.length = 0;
    await migration.up(db);
    statements[name] = [...log];
  }
  log.length = 0;
  return statements;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see migrate()
async function revert(db: Kysely<any>, set: MigrationSet, log: { sql: string; parameters: readonly unknown[] }[]) {
  const reverted: Snapshot['reverted'] = {};
  for (const [name, migration] of Object.entries(set.migrations).reverse()) {
    log.length = 0;
    try {
      await migration.down?.(db);
    } catch (error) {
      reverted[name] = (error as Error).message;
      break;
    }
    reverted[name] = [...log];
  }
  return reverted;
}

async function snapshotSqlite(set: MigrationSet): Promise<Snapshot> {
  const connection = new SQLite(':memory:');
  connection.pragma('foreign_keys = ON');
  const log: { sql: string; parameters: readonly unknown[] }[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see migrate()
  const db = new Kysely<any>({
    dialect: new SqliteDialect({ database: connection }),
    log: (event) => {
      log.push({ sql: event.query.sql, parameters: event.query.parameters });
    },
  });
  try {
    const statements = await migrate(db, set, log);
    const schema = connection
      .prepare(`select type, name, tbl_name, sql from sqlite_master where name not like 'sqlite_%' order by type, name`)
      .all();
    return { statements, schema, reverted: await revert(db, set, log) };
  } finally {
    await db.destroy();
  }
}

async function snapshotPostgres(set: MigrationSet): Promise<Snapshot> {
  const schemaName = `snap_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2, options: `-c search_path=${schemaName}` });
  pool.on('error', () => undefined);
  const log: { sql: string; parameters: readonly unknown[] }[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see migrate()
  const db = new Kysely<any>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      log.push({ sql: event.query.sql, parameters: event.query.parameters });
    },
  });
  try {
    await sql`create schema ${sql.id(schemaName)}`.execute(db);
    const statements = await migrate(db, set, log);
    const unqualified = (text: string) => text.replaceAll(`${schemaName}.`, '');
    const columns = await sql<Record<string, unknown>>`
      select table_name, column_name, ordinal_position, data_type, is_nullable, column_default, character_maximum_length
      from information_schema.columns where table_schema = ${schemaName} order by table_name, ordinal_position`.execute(db);
    const indexes = await sql<{ tablename: string; indexname: string; indexdef: string }>`
      select tablename, indexname, indexdef from pg_indexes where schemaname = ${schemaName} order by tablename, indexname`.execute(db);
    const constraints = await sql<{ table: string; name: string; type: string; definition: string }>`
      select cl.relname as table, co.conname as name, co.contype::text as type, pg_get_constraintdef(co.oid) as definition
      from pg_constraint co join pg_class cl on cl.oid = co.conrelid join pg_namespace n on n.oid = cl.relnamespace
      where n.nspname = ${schemaName} order by cl.relname, co.conname`.execute(db);
    return {
      statements,
      schema: {
        columns: columns.rows,
        indexes: indexes.rows.map((row) => ({ ...row, indexdef: unqualified(row.indexdef) })),
        constraints: constraints.rows.map((row) => ({ ...row, definition: unqualified(row.definition) })),
      },
      reverted: await revert(db, set, log),
    };
  } finally {
    await sql`drop schema if exists ${sql.id(schemaName)} cascade`.execute(db).catch(() => undefined);
    await db.destroy();
  }
}

const update = process.env.KEYWAY_UPDATE_SCHEMA_SNAPSHOT === '1';
const stored = readSnapshot();

for (const { kind, skip } of await databaseKinds()) {
  describe(`migrations on ${kind}: statements and schema as in the snapshot`, { skip }, () => {
    for (const [store, set] of Object.entries(sets)) {
      it(`the ${store} store`, async () => {
        const actual = kind === 'sqlite' ? await snapshotSqlite(set) : await snapshotPostgres(set);
        // Through JSON, as stored: what the drivers return (null prototypes, numbers) compares alike.
        const plain = JSON.parse(JSON.stringify(actual)) as Snapshot;
        if (update) {
          const current = readSnapshot();
          current[store] = { ...current[store], [kind]: plain };
          writeFileSync(SNAPSHOT, JSON.stringify(current, null, 2) + '\n');
          return;
        }
        const expected = stored[store]?.[kind];
        assert.ok(expected, `no snapshot for the ${store} store on ${kind}: run with KEYWAY_UPDATE_SCHEMA_SNAPSHOT=1`);
        assert.deepEqual(Object.keys(plain.statements), Object.keys(expected.statements), 'the same migrations');
        for (const name of Object.keys(expected.statements)) {
          assert.deepEqual(plain.statements[name], expected.statements[name], `migration ${name} sends the same statements`);
        }
        assert.deepEqual(plain.schema, expected.schema, 'the same resulting schema');
        assert.deepEqual(plain.reverted, expected.reverted, 'down() sends the same statements');
      });
    }
  });
}
