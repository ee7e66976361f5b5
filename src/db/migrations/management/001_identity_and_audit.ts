import { sql } from 'kysely';
import { tableWithId, requiredText, optionalText, cascadeTo, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Timestamps are ISO-8601 UTC text and booleans are 0/1 integers on both databases, so one set of
// migrations and one set of queries serve SQLite and PostgreSQL alike.

export async function up(db: MigrationDb): Promise<void> {
  await tableWithId(db, 'organizations')
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .$call(requiredText('name', 'created_at'))
    .execute();

  await tableWithId(db, 'users')
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('disabled_at', 'text')
    .execute();

  await db.schema
    .createTable('memberships')
    .addColumn('organization_id', 'text', cascadeTo('organizations'))
    .addColumn('user_id', 'text', cascadeTo('users'))
    .addColumn('role', 'text', (c) => c.notNull().check(sqlRole()))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('memberships_pk', ['organization_id', 'user_id'])
    .execute();
  await db.schema.createIndex('memberships_user_idx').on('memberships').column('user_id').execute();

  await tableWithId(db, 'sessions')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'text', cascadeTo('users'))
    .addColumn('organization_id', 'text', cascadeTo('organizations'))
    .$call(requiredText('csrf_token', 'created_at', 'expires_at', 'last_seen_at'))
    .$call(optionalText('ip', 'user_agent'))
    .execute();

  await tableWithId(db, 'api_tokens')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .$call(requiredText('display_prefix', 'name'))
    .addColumn('user_id', 'text', cascadeTo('users'))
    .addColumn('organization_id', 'text', cascadeTo('organizations'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .$call(optionalText('expires_at', 'last_used_at', 'revoked_at'))
    .execute();
  await db.schema.createIndex('api_tokens_user_idx').on('api_tokens').column('user_id').execute();

  await tableWithId(db, 'sign_in_links')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'text', cascadeTo('users'))
    .addColumn('organization_id', 'text', cascadeTo('organizations'))
    .$call(requiredText('created_at', 'expires_at'))
    .addColumn('used_at', 'text')
    .execute();

  await tableWithId(db, 'sign_in_failures')
    .$call(requiredText('subject', 'ip', 'created_at'))
    .execute();
  await db.schema.createIndex('sign_in_failures_subject_idx').on('sign_in_failures').columns(['subject', 'created_at']).execute();
  await db.schema.createIndex('sign_in_failures_ip_idx').on('sign_in_failures').columns(['ip', 'created_at']).execute();

  await tableWithId(db, 'audit_events')
    .addColumn('organization_id', 'text')
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .$call(optionalText('actor_id', 'actor_label'))
    .addColumn('action', 'text', (c) => c.notNull())
    .$call(optionalText('target_type', 'target_id'))
    .addColumn('outcome', 'text', (c) => c.notNull())
    .$call(optionalText('ip', 'user_agent'))
    .$call(requiredText('details', 'created_at'))
    .execute();
  await db.schema.createIndex('audit_events_org_time_idx').on('audit_events').columns(['organization_id', 'created_at']).execute();
}

function sqlRole() {
  return sql`role in ('admin', 'member')`;
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, [
    'audit_events',
    'sign_in_failures',
    'sign_in_links',
    'api_tokens',
    'sessions',
    'memberships',
    'users',
    'organizations',
  ]);
}
