import { tableWithId, requiredText, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Environments on this runner: a workspace cloned for one user through one integration, and the
// digest of the secret its git credential helper presents on the runner's local socket. The
// secret itself is only in the workspace's 0600 file; the token is never stored here.

export async function up(db: MigrationDb): Promise<void> {
  await tableWithId(db, 'environments')
    .$call(requiredText('user_id', 'integration_id'))
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
    .$call(requiredText('status', 'created_at'))
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['environments']);
}
