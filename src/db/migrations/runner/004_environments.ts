import type { Kysely } from 'kysely';

// Environments on this runner: a workspace cloned for one user through one integration, and the
// digest of the secret its git credential helper presents on the runner's local socket. The
// secret itself is only in the workspace's 0600 file; the token is never stored here.

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('environments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('integration_id', 'text', (c) => c.notNull())
    // The repository as parsed (kind, organization, project, repository...), JSON.
    .addColumn('repository', 'text', (c) => c.notNull())
    // The credential-free remote git talks to; the helper serves only requests for it.
    .addColumn('remote_url', 'text', (c) => c.notNull())
    // SHA-256 (hex) of the helper's secret.
    .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
    .addColumn('workspace', 'text', (c) => c.notNull())
    // Which runner process's disk holds the workspace (`{hostname}:{dataDir}`): replicas sharing
    // this store each own their workspaces.
    .addColumn('instance', 'text', (c) => c.notNull())
    // 'cloning' | 'ready' | 'failed'
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('environments').ifExists().execute();
}
