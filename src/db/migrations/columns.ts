import type { ColumnBuilderCallback, ColumnDataType, ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from 'kysely';

// What the migrations of both stores write again and again, said once. Each helper makes exactly
// the builder calls it replaces, so the statements sent (and the schema) stay as they were:
// src/db/migrations/schema-snapshot.test.ts holds every migration to the statements it first sent.

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export type MigrationDb = Kysely<any>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a table under construction has no typed columns yet
type TableBuilder = CreateTableBuilder<any, any>;

/** `create table <name>` whose first column, `<column> text primary key`, is its key. */
export function tableKeyedBy(db: MigrationDb, name: string, column: string): TableBuilder {
  return db.schema.createTable(name).addColumn(column, 'text', (c) => c.primaryKey());
}

/** `create table <name>` whose first column is `id text primary key`. */
export function tableWithId(db: MigrationDb, name: string): TableBuilder {
  return tableKeyedBy(db, name, 'id');
}

/** `create table <name>` of single facts: `key text primary key`, then `value` and `updated_at` (text not null). */
export function keyValueTable(db: MigrationDb, name: string): TableBuilder {
  return tableKeyedBy(db, name, 'key').$call(requiredText('value', 'updated_at'));
}

/** Columns added to a table under construction (use with `.$call(...)`). */
export type Columns = (table: TableBuilder) => TableBuilder;

/**
 * `create table <name>` with the columns given, in order, then the primary key `<name>_pk` over the
 * columns `key` names.
 */
export function tableWithCompositeKey(db: MigrationDb, name: string, key: string[], ...columns: Columns[]): TableBuilder {
  const table: TableBuilder = db.schema.createTable(name);
  return columns.reduce((t, add) => t.$call(add), table).addPrimaryKeyConstraint(`${name}_pk`, key);
}

/** `<type> not null` columns, in the order given (use with `.$call(...)`). */
export function requiredColumns(type: ColumnDataType, ...names: string[]): Columns {
  return (table) => names.reduce((t, name) => t.addColumn(name, type, (c) => c.notNull()), table);
}

/** `text not null` columns, in the order given (use with `.$call(...)`). */
export function requiredText(...names: string[]): Columns {
  return requiredColumns('text', ...names);
}

/** Nullable `text` columns, in the order given (use with `.$call(...)`). */
export function optionalText(...names: string[]): Columns {
  return (table) => names.reduce((t, name) => t.addColumn(name, 'text'), table);
}

/** A required reference to `<table>.id` whose rows go when the row referred to goes. */
export function cascadeTo(table: string): (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder {
  return (c) => c.notNull().references(`${table}.id`).onDelete('cascade');
}

/** Required `<column> text` references, column → table, in order, each with `cascadeTo(table)` (use with `.$call(...)`). */
export function cascadeColumns(references: Record<string, string>): Columns {
  return (table) => Object.entries(references).reduce((t, [column, to]) => t.addColumn(column, 'text', cascadeTo(to)), table);
}

/** `drop table if exists`, one table after the other. */
export async function dropTables(db: MigrationDb, tables: string[]): Promise<void> {
  for (const table of tables) await db.schema.dropTable(table).ifExists().execute();
}

/** `alter table <table> drop column`, one column after the other. */
export async function dropColumns(db: MigrationDb, table: string, columns: string[]): Promise<void> {
  for (const column of columns) await db.schema.alterTable(table).dropColumn(column).execute();
}

/** A required column with a default: `not null default <value>`. */
export function requiredWithDefault(value: string | number): ColumnBuilderCallback {
  return (c) => c.notNull().defaultTo(value);
}

/** Columns added to an existing table, in order: name → its type, or its type and how it is built. */
export type AddedColumns = Record<string, ColumnDataType | [type: ColumnDataType, build: ColumnBuilderCallback]>;

/** `alter table <table> add column`, one column (one statement) after the other. */
export async function addColumns(db: MigrationDb, table: string, columns: AddedColumns): Promise<void> {
  for (const [name, column] of Object.entries(columns)) {
    const [type, build] = Array.isArray(column) ? column : [column];
    await db.schema.alterTable(table).addColumn(name, type, build).execute();
  }
}

/** `create [unique] index <name> on <table>`: one column (`.column`) or several (`.columns`). */
export async function createIndex(
  db: MigrationDb,
  name: string,
  table: string,
  columns: string | string[],
  options: { unique?: boolean } = {},
): Promise<void> {
  const index = db.schema.createIndex(name).on(table);
  const indexed = typeof columns === 'string' ? index.column(columns) : index.columns(columns);
  await (options.unique ? indexed.unique() : indexed).execute();
}
