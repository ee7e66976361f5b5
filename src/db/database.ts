import { databaseQuerySpan, tracingEnabled } from '../telemetry/spans.ts';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { SqliteDatabase } from 'kysely';

export type DatabaseKind = 'sqlite' | 'postgres';

export interface Database<DB> {
  db: Kysely<DB>;
  kind: DatabaseKind;
  /** A description safe to log: the SQLite path, or the PostgreSQL host and database without credentials. */
  label: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL only: the schema to use (created when missing). Lets several stores share one database. */
  schema?: string;
  /** PostgreSQL pool size. */
  maxConnections?: number;
}

/** Opens `sqlite:/path/file.db` or `postgres://...`. */
export async function openDatabase<DB>(url: string, options: OpenOptions = {}): Promise<Database<DB>> {
  if (url.startsWith('sqlite:')) return openSqlite<DB>(url.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres<DB>(url, options);
  throw new Error('database URL must start with sqlite: or postgres://');
}

function openSqlite<DB>(path: string): Database<DB> {
  const inMemory = path === ':memory:';
  const isNew = !inMemory && !existsSync(path);
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  const connection = new SQLite(path);
  // Owner-only, like the key file: the runner store holds (encrypted) credentials.
  if (isNew) chmodSync(path, 0o600);
  // WAL lets readers proceed during a write; busy_timeout makes a second process wait for the
  // write lock instead of failing at once; foreign keys are off by default in SQLite.
  connection.pragma('journal_mode = WAL');
  connection.pragma('busy_timeout = 5000');
  connection.pragma('foreign_keys = ON');
  connection.pragma('synchronous = NORMAL');
  const db = new Kysely<DB>({
    dialect: new SqliteDialect({ database: withStatementCache(connection) }),
    ...(tracingEnabled() ? { log: databaseQuerySpan('sqlite') } : {}),
  });
  return { db, kind: 'sqlite', label: `sqlite:${path}`, close: () => db.destroy() };
}

/** Distinct SQL texts kept prepared; Keyway's stores issue a few hundred at most. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs more than running the small
 * indexed reads on git's credential path (bench/01). Statements are kept per SQL text and reused;
 * one that is busy (a streaming iteration in progress) is never shared: a fresh one is prepared.
 */
function withStatementCache(connection: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => connection.close(),
    prepare(sql: string) {
      const cached = statements.get(sql);
      if (cached && !cached.busy) return cached;
      const statement = connection.prepare(sql);
      if (!cached) {
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

async function openPostgres<DB>(url: string, options: OpenOptions): Promise<Database<DB>> {
  const parsed = new URL(url);
  const label = `postgres://${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name "${schema}": use lower-case letters, digits and _`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // Without a listener an idle client's error (a server restart) would crash the process.
  pool.on('error', () => undefined);
  // pg-pool listens to a client's errors only while it is idle: a connection terminated while it
  // is checked out between two statements (a transaction, or the moment between checkout and
  // query) would emit an unhandled 'error' and crash the process. Queries on it fail instead, and
  // the pool drops it on release (test/resilience/faults.test.ts kills connections under load).
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool }),
    ...(tracingEnabled() ? { log: databaseQuerySpan('postgresql') } : {}),
  });
  if (schema) await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
  return { db, kind: 'postgres', label, close: () => db.destroy() };
}

/** True when the database answers a trivial query; used by /readyz. */
export async function pingDatabase<DB>(database: Database<DB>): Promise<boolean> {
  try {
    await sql`select 1`.execute(database.db);
    return true;
  } catch {
    return false;
  }
}
