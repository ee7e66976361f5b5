import { sql } from 'kysely';
import { tableWithId, tableWithCompositeKey, requiredText, optionalText, cascadeColumns, createIndex, dropTables } from '../columns.ts';
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

  await tableWithCompositeKey(
    db,
    'memberships',
    ['organization_id', 'user_id'],
    cascadeColumns({ organization_id: 'organizations', user_id: 'users' }),
    (t) => t.addColumn('role', 'text', (c) => c.notNull().check(sqlRole())),
    requiredText('created_at'),
  ).execute();
  await createIndex(db, 'memberships_user_idx', 'memberships', 'user_id');

  await tableWithId(db, 'sessions')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .$call(cascadeColumns({ user_id: 'users', organization_id: 'organizations' }))
    .$call(requiredText('csrf_token', 'created_at', 'expires_at', 'last_seen_at'))
    .$call(optionalText('ip', 'user_agent'))
    .execute();

  await tableWithId(db, 'api_tokens')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .$call(requiredText('display_prefix', 'name'))
    .$call(cascadeColumns({ user_id: 'users', organization_id: 'organizations' }))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .$call(optionalText('expires_at', 'last_used_at', 'revoked_at'))
    .execute();
  await createIndex(db, 'api_tokens_user_idx', 'api_tokens', 'user_id');

  await tableWithId(db, 'sign_in_links')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .$call(cascadeColumns({ user_id: 'users', organization_id: 'organizations' }))
    .$call(requiredText('created_at', 'expires_at'))
    .addColumn('used_at', 'text')
    .execute();

  await tableWithId(db, 'sign_in_failures')
    .$call(requiredText('subject', 'ip', 'created_at'))
    .execute();
  await createIndex(db, 'sign_in_failures_subject_idx', 'sign_in_failures', ['subject', 'created_at']);
  await createIndex(db, 'sign_in_failures_ip_idx', 'sign_in_failures', ['ip', 'created_at']);

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
  await createIndex(db, 'audit_events_org_time_idx', 'audit_events', ['organization_id', 'created_at']);
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
