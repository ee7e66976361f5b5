import { sql } from 'kysely';
import {
  tableKeyedBy,
  tableWithId,
  keyValueTable,
  tableWithCompositeKey,
  requiredText,
  optionalText,
  cascadeColumns,
  requiredWithDefault,
  addColumns,
  createIndex,
} from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// The front door: single sign-on, invitations, explicit organization choice, offboarding and
// sign-in throttling that counts attempts before it checks them.

export async function up(db: MigrationDb): Promise<void> {
  // Per-organization policy. Password sign-in can be switched off once SSO works; who may create
  // projects is the organization's choice; SSO role mapping is read at every sign-in.
  await addColumns(db, 'organizations', {
    password_sign_in: ['integer', requiredWithDefault(1)],
    project_creation: ['text', requiredWithDefault('admins')],
    sso_role_claim: 'text',
    sso_admin_values: ['text', requiredWithDefault('[]')],
    sso_member_values: ['text', requiredWithDefault('[]')],
  });

  // Instance operators create organizations and disable users; the bootstrap admin is the first.
  await addColumns(db, 'users', {
    operator: ['integer', requiredWithDefault(0)],
    last_organization_id: 'text',
    password_changed_at: 'text',
  });
  await sql`update users set operator = 1 where id in (select user_id from memberships where role = 'admin' order by created_at limit 1)`.execute(
    db,
  );

  // How a person came to be a member: SSO-managed memberships follow the identity provider's claims.
  await addColumns(db, 'memberships', { source: ['text', requiredWithDefault('direct')] });

  // Sessions may exist before the user picked an organization (several memberships, no previous
  // choice), so organization_id becomes nullable; they also remember how the person proved who
  // they are and when, for re-authentication rules. SQLite cannot relax NOT NULL in place.
  await tableWithId(db, 'sessions_next')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .$call(cascadeColumns({ user_id: 'users' }))
    .addColumn('organization_id', 'text', (c) => c.references('organizations.id').onDelete('cascade'))
    .$call(requiredText('csrf_token', 'created_at', 'expires_at', 'last_seen_at'))
    .$call(optionalText('ip', 'user_agent'))
    .addColumn('auth_method', 'text', (c) => c.notNull().defaultTo('password'))
    .addColumn('authenticated_at', 'text', (c) => c.notNull())
    .addColumn('sso_identity_id', 'text')
    .execute();
  await sql`insert into sessions_next (id, token_hash, user_id, organization_id, csrf_token, created_at, expires_at, last_seen_at, ip, user_agent, auth_method, authenticated_at)
            select id, token_hash, user_id, organization_id, csrf_token, created_at, expires_at, last_seen_at, ip, user_agent, 'password', created_at from sessions`.execute(
    db,
  );
  await db.schema.dropTable('sessions').execute();
  await db.schema.alterTable('sessions_next').renameTo('sessions').execute();
  await createIndex(db, 'sessions_user_idx', 'sessions', 'user_id');

  // API tokens remember the session that made them: a token never mints tokens.
  await addColumns(db, 'api_tokens', { created_by_session: 'text' });

  // Sign-in links name why they exist (first start, operator CLI, password reset).
  await addColumns(db, 'sign_in_links', { purpose: ['text', requiredWithDefault('bootstrap')] });

  await tableWithId(db, 'sso_identities')
    .$call(cascadeColumns({ user_id: 'users' }))
    .$call(requiredText('provider', 'issuer', 'subject'))
    .$call(optionalText('tenant_id', 'email'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_sign_in_at', 'text')
    .addUniqueConstraint('sso_identities_subject_unique', ['provider', 'issuer', 'subject'])
    .execute();
  await createIndex(db, 'sso_identities_user_idx', 'sso_identities', 'user_id');

  // One tenant or domain belongs to one organization: just-in-time joins are never ambiguous.
  await tableWithId(db, 'organization_sso_bindings')
    .$call(cascadeColumns({ organization_id: 'organizations' }))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('entra-tenant', 'email-domain')`))
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('organization_sso_bindings_unique', ['kind', 'value'])
    .execute();

  // A sign-in with an identity provider in progress: the state's digest, bound to the browser
  // that started it by a cookie whose digest is kept here (login CSRF), single use, 10 minutes.
  await tableKeyedBy(db, 'sso_states', 'state_hash')
    .$call(requiredText('browser_hash', 'provider', 'issuer', 'code_verifier', 'nonce', 'intent'))
    .$call(optionalText('session_id', 'invitation_id'))
    .$call(requiredText('return_to', 'created_at', 'expires_at'))
    .execute();

  await tableWithId(db, 'invitations')
    .$call(cascadeColumns({ organization_id: 'organizations' }))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('admin', 'member')`))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('invited_by', 'text')
    .$call(requiredText('created_at', 'expires_at'))
    .$call(optionalText('accepted_at', 'accepted_by', 'revoked_at'))
    .execute();
  await createIndex(db, 'invitations_org_idx', 'invitations', ['organization_id', 'created_at']);

  // Sign-in throttling: one counter row per key (account+address, address, account), reserved
  // with a conditional UPDATE before the password is checked, so parallel guesses all count.
  await db.schema.dropTable('sign_in_failures').execute();
  await tableKeyedBy(db, 'sign_in_throttle', 'key')
    .addColumn('window_start', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .execute();
  // Addresses an account signed in from before: the account-wide limit does not apply to them,
  // so a distributed attacker slows themselves down without locking the owner out.
  await tableWithCompositeKey(
    db,
    'sign_in_known_addresses',
    ['user_id', 'ip'],
    cascadeColumns({ user_id: 'users' }),
    requiredText('ip', 'last_seen_at'),
  ).execute();

  // A person's credentials purged from a runner after they left or were removed or disabled:
  // requested by the management plane, confirmed by the runner.
  await tableWithId(db, 'credential_purges')
    .$call(cascadeColumns({ organization_id: 'organizations', runner_id: 'runners' }))
    .$call(requiredText('user_id', 'reason', 'request_id', 'requested_at'))
    .addColumn('confirmed_at', 'text')
    .addColumn('deleted', 'integer')
    .execute();
  await createIndex(db, 'credential_purges_user_idx', 'credential_purges', ['user_id', 'requested_at']);

  // Failed unauthenticated attempts are aggregated per action, address and minute: a flood adds to
  // a count instead of writing a row per request.
  await addColumns(db, 'audit_events', { occurrences: ['integer', requiredWithDefault(1)] });

  // Facts about this instance that command-line tools need (the public URL a sign-in link uses).
  await keyValueTable(db, 'instance_settings').execute();
}

export async function down(_db: MigrationDb): Promise<void> {
  throw new Error('007_front_door cannot be reverted: restore a backup taken before the upgrade');
}
