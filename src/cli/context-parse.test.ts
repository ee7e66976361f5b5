// Case 8 of issue 14: `keyway context parse` can parse Azure DevOps Server URLs — named with
// --server, or configured in the data directory — and a branchCompare URL opens its source branch.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../test/support/cli.ts';
import { openDatabase } from '../db/database.ts';
import type { ManagementDB } from '../db/management-schema.ts';

const SERVER_URL = 'https://ado.example.local/tfs/DefaultCollection/Demo/_git/demo-app?version=GBfeature%2Fx';

describe('keyway context parse: Server hosts and branch comparisons', () => {
  it('parses a Server URL with --server (repeatable), and says how to name a Server when it cannot', () => {
    const parsed = runCli([
      'context',
      'parse',
      SERVER_URL,
      '--server',
      'https://other.local',
      '--server',
      'https://ado.example.local/tfs/',
    ]);
    assert.equal(parsed.status, 0, parsed.stderr);
    const context = JSON.parse(parsed.stdout);
    assert.deepEqual(
      [context.kind, context.virtualDirectory, context.collection, context.project, context.repository, context.ref?.name],
      ['server', '/tfs', 'DefaultCollection', 'Demo', 'demo-app', 'feature/x'],
    );
    const unknown = runCli(['context', 'parse', SERVER_URL], { KEYWAY_DATA_DIR: mkdtempSync(join(tmpdir(), 'keyway-empty-')) });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /not an Azure DevOps host.*--server https:\/\/\{host\}\/\{virtual directory\}/);
    const bad = runCli(['context', 'parse', SERVER_URL, '--server', 'not a url']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--server .* is not a URL/);
  });

  it('reads the Server integrations configured in the data directory', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyway-ctx-'));
    assert.equal(runCli(['migrate', '--data-dir', dataDir]).status, 0);
    const database = await openDatabase<ManagementDB>(`sqlite:${join(dataDir, 'management.db')}`);
    try {
      const at = new Date().toISOString();
      await database.db.insertInto('organizations').values({ id: 'org_x', slug: 'x', name: 'X', created_at: at }).execute();
      await database.db
        .insertInto('runners')
        .values({
          id: 'run_x',
          organization_id: 'org_x',
          name: 'r',
          local: 0,
          exchange_token_hash: null,
          exchange_expires_at: null,
          token_hash: null,
          public_key: null,
          public_key_fingerprint: null,
          version: null,
          last_seen_at: null,
          created_at: at,
          created_by: null,
          revoked_at: null,
        })
        .execute();
      await database.db
        .insertInto('scm_integrations')
        .values({
          id: 'int_x',
          organization_id: 'org_x',
          runner_id: 'run_x',
          scm_id: 'azure-devops',
          host: 'ado.example.local',
          virtual_directory: '/tfs',
          oauth_client_id: null,
          oauth_client_secret_sealed: null,
          oauth_issuer_url: null,
          pat_enabled: 1,
          settings: JSON.stringify({ kind: 'server', origin: 'https://ado.example.local' }),
          last_test: null,
          created_at: at,
          updated_at: at,
        })
        .execute();
    } finally {
      await database.close();
    }
    const parsed = runCli(['context', 'parse', SERVER_URL, '--data-dir', dataDir]);
    assert.equal(parsed.status, 0, parsed.stderr);
    assert.equal(JSON.parse(parsed.stdout).collection, 'DefaultCollection');
  });

  it('a branchCompare URL opens the compared (source) branch, or is refused clearly without one', () => {
    const base = 'https://dev.azure.com/fabrikam/Web/_git/web/branchCompare';
    const parsed = runCli(['context', 'parse', `${base}?baseVersion=GBmain&targetVersion=GBfeature%2Flogin&_a=files`]);
    assert.equal(parsed.status, 0, parsed.stderr);
    assert.deepEqual(JSON.parse(parsed.stdout).ref, { type: 'branch', name: 'feature/login' });
    const tag = runCli(['context', 'parse', `${base}?baseVersion=GBmain&targetVersion=GTv1.0`]);
    assert.deepEqual(JSON.parse(tag.stdout).ref, { type: 'tag', name: 'v1.0' });
    const refused = runCli(['context', 'parse', `${base}?baseVersion=GBmain`]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /names no targetVersion.*use the branch's own URL/);
  });
});
