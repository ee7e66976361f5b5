import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parse } from 'yaml';
import { expectStatus, startAutomationWorld } from '../../../test/support/automation.ts';
import type { AutomationWorld } from '../../../test/support/automation.ts';
import { KEYWAY_BIN } from '../../../test/support/cli.ts';
import { keywayFileJsonSchema } from './schema.ts';
import { ApplyFileError, parseKeywayFile } from './load.ts';

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

describe('keyway apply and export: configuration as code', () => {
  let w: AutomationWorld;
  let apiToken: string;
  const dir = mkdtempSync(join(tmpdir(), 'keyway-apply-'));
  const file = join(dir, 'keyway.yaml');
  const outputs: string[] = [];
  const secrets = { ADO_PAT: '', ENTRA_SECRET: '', API_KEY: `api-key-${randomUUID()}` };

  before(async () => {
    w = await startAutomationWorld('sqlite');
    secrets.ADO_PAT = w.seeded.pat;
    secrets.ENTRA_SECRET = w.seeded.clientSecret;
    apiToken = expectStatus(
      await w.plane.adminBrowser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'apply test' } }),
      201,
    ).json().token;
  });
  after(async () => w?.close());

  // Asynchronous: the management plane answering the CLI runs in this process.
  function keyway(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    const child = spawn(process.execPath, [KEYWAY_BIN, ...args, '--server', w.plane.url], {
      env: { ...process.env, KEYWAY_FROM_SOURCE: '1', KEYWAY_API_TOKEN: apiToken, ...secrets, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    return new Promise((resolve) =>
      child.once('close', (status) => {
        outputs.push(stdout, stderr);
        resolve({ status, stdout, stderr });
      }),
    );
  }

  function writeFile(options: { hello?: string; groupName?: string; withSync?: boolean } = {}) {
    const issuer = `${w.seeded.emu.urls.login}/${w.seeded.emu.defaultTenant.id}/v2.0`;
    const sync =
      options.withSync === false
        ? ''
        : `
    syncs:
      - name: web vars
        connection: ci pat
        project: ${w.seeded.project}
        groupName: ${options.groupName ?? 'web-vars'}
        variables:
          - name: HELLO
            value: ${options.hello ?? 'world'}
          - name: API_KEY
            secret: true
            value: { env: API_KEY }`;
    writeFileSync(
      file,
      `# yaml-language-server: $schema=../docs/keyway.schema.json
apiVersion: keyway/v1
runners:
  - name: automation
    integrations:
      - host: dev.azure.com
        pat: true
        oauth:
          clientId: ${w.seeded.clientId}
          issuerUrl: ${issuer}
          clientSecret: { env: ENTRA_SECRET }
projects:
  - name: Platform
    members:
      - email: member@acme.test
        role: member
    appConnections:
      - name: ci pat
        runner: automation
        method: access-token
        organization: ${w.seeded.org}
        accessToken: { env: ADO_PAT }${sync}
`,
    );
  }

  /** What an apply writes: the rows of the managed tables (and their audit events). */
  async function snapshot(): Promise<string> {
    const db = w.plane.database.db;
    const parts = await Promise.all([
      db.selectFrom('scm_integrations').selectAll().orderBy('id').execute(),
      db.selectFrom('projects').selectAll().orderBy('id').execute(),
      db.selectFrom('project_members').selectAll().orderBy('user_id').execute(),
      db.selectFrom('app_connections').selectAll().orderBy('id').execute(),
      db.selectFrom('variable_syncs').selectAll().orderBy('id').execute(),
      db.selectFrom('sync_runs').selectAll().orderBy('id').execute(),
      db
        .selectFrom('audit_events')
        .select(['action', 'target_id'])
        .where('action', 'not in', ['api_token.create'])
        .orderBy('created_at')
        .execute(),
      w.runner.store.database.db.selectFrom('credentials').selectAll().orderBy('id').execute(),
      w.runner.store.database.db.selectFrom('sync_variables').selectAll().orderBy('id').execute(),
    ]);
    return JSON.stringify(parts);
  }
  const auditActions = async (since: number) =>
    (await w.plane.database.db.selectFrom('audit_events').select('action').orderBy('created_at').execute())
      .slice(since)
      .map((e) => e.action);
  const auditCount = async () => (await w.plane.database.db.selectFrom('audit_events').select('id').execute()).length;
  const groupValue = (groupName: string, name: string) => {
    const world = w.seeded.emu.world;
    const group = world.listVariableGroups(world.requireOrganization(w.seeded.org)).find((g) => g.name === groupName);
    return group ? world.readVariable(w.seeded.org, group.id, name) : undefined;
  };

  it('the JSON Schema in docs/ is the one the command checks files with', () => {
    const shipped = JSON.parse(readFileSync(new URL('../../../docs/keyway.schema.json', import.meta.url), 'utf8'));
    assert.deepEqual(shipped, keywayFileJsonSchema(), 'regenerate it: keyway export --schema > docs/keyway.schema.json');
  });

  it('refuses a file with a mistake, naming the place and what is wrong', () => {
    assert.throws(
      () => parseKeywayFile('apiVersion: keyway/v2\n', 'k.yaml'),
      (err: Error) => err instanceof ApplyFileError && /apiVersion/.test(err.message) && /keyway\/v1/.test(err.message),
    );
    assert.throws(
      () => parseKeywayFile('apiVersion: keyway/v1\nprojects:\n  - name: A\n    colour: red\n', 'k.yaml'),
      /projects\.0 .*"colour" is not a known key/,
    );
    assert.throws(
      () => parseKeywayFile('apiVersion: keyway/v1\nprojects:\n  - name: A\n  - name: a\n', 'k.yaml'),
      /project "a" appears twice/,
    );
    assert.throws(() => parseKeywayFile('apiVersion: keyway/v1\nprojects: [\n', 'k.yaml'), /not valid YAML/);
  });

  it('a first apply creates everything: the plan first, then the integration, project, member, connection and sync; the values reach Azure DevOps', async () => {
    writeFile();
    const result = await keyway(['apply', '-f', file, '--yes']);
    assert.equal(result.status, 0, result.stderr + result.stdout);
    const plan = result.stdout.slice(0, result.stdout.indexOf('created'));
    assert.match(plan, /Plan: 5 to create, 0 to change, 0 to delete\./);
    for (const line of [
      /\+ create integration dev\.azure\.com on runner "automation"/,
      /\+ create project "Platform"/,
      /\+ create member member@acme\.test of project "Platform"/,
      /\+ create app connection "ci pat"/,
      /\+ create sync "web vars"/,
    ])
      assert.match(plan, line);
    assert.match(plan, /secret from \$ENTRA_SECRET/);
    // The app registration does not list the new integration's callback yet: the apply says exactly
    // what to register (the integration is saved anyway, as a first Save & Test allows).
    const callback = /add exactly (\S+) under Authentication/.exec(result.stdout)?.[1];
    assert.ok(callback, result.stdout);
    assert.match(result.stdout, /Save & Test failed \(saved anyway\): .*AADSTS50011/);
    assert.match(result.stdout, /Applied 5 change\(s\)\./);
    w.seeded.app.redirectUris.push(callback);

    const projects = expectStatus(await w.plane.adminBrowser.request({ method: 'GET', url: '/api/v1/projects' }), 200).json().projects as {
      id: string;
      name: string;
    }[];
    const platform = projects.find((p) => p.name === 'Platform');
    assert.ok(platform);
    const connections = expectStatus(
      await w.plane.adminBrowser.request({ method: 'GET', url: `/api/v1/projects/${platform.id}/app-connections` }),
      200,
    ).json().connections;
    assert.equal(connections[0].status, 'active');
    const integrations = expectStatus(
      await w.plane.adminBrowser.request({ method: 'GET', url: `/api/v1/runners/${w.runnerId}/scm-integrations` }),
      200,
    ).json().integrations;
    assert.equal(integrations[0].oauth.clientSecretSet, true);
    assert.equal(integrations[0].pat.enabled, true);
    // Once registered, the integration tests valid with the client secret that apply sealed.
    const retest = expectStatus(
      await w.plane.adminBrowser.request({
        method: 'POST',
        url: `/api/v1/runners/${w.runnerId}/scm-integrations/${integrations[0].id}/test`,
      }),
      200,
    ).json();
    assert.equal((retest.test ?? retest).valid, true, JSON.stringify(retest));
    const run = await w.plane.app.projectAutomation.scheduler;
    assert.ok(run);
    const syncs = expectStatus(
      await w.plane.adminBrowser.request({ method: 'GET', url: `/api/v1/projects/${platform.id}/syncs` }),
      200,
    ).json().syncs;
    expectStatus(
      await w.plane.adminBrowser.request({ method: 'POST', url: `/api/v1/projects/${platform.id}/syncs/${syncs[0].id}/run` }),
      200,
    );
    assert.equal(groupValue('web-vars', 'HELLO'), 'world');
    assert.equal(groupValue('web-vars', 'API_KEY'), secrets.API_KEY);
  });

  it('a second apply of the same file plans nothing and writes nothing: no row, no audit event, no credential touched', async () => {
    const before = await snapshot();
    const result = await keyway(['apply', '-f', file, '--yes']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /No changes: Keyway already matches the file\./);
    assert.equal(await snapshot(), before);
  });

  it('a changed file shows the change in the plan (--dry-run changes nothing), then applies only that change', async () => {
    writeFile({ hello: 'there' });
    const before = await snapshot();
    const dry = await keyway(['apply', '-f', file, '--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /Plan: 0 to create, 1 to change, 0 to delete\.\n {2}~ update sync "web vars" of project "Platform"\n {6}variables: values changed/,
    );
    assert.match(dry.stdout, /Dry run: nothing was changed\./);
    assert.equal(await snapshot(), before);

    const audits = await auditCount();
    const applied = await keyway(['apply', '-f', file, '--yes']);
    assert.equal(applied.status, 0, applied.stderr);
    assert.match(applied.stdout, /changed sync "web vars"/);
    assert.deepEqual(await auditActions(audits), ['sync.variables.replace']);
    await w.plane.app.projectAutomation.scheduler;
    const again = await keyway(['apply', '-f', file, '--dry-run']);
    assert.match(again.stdout, /No changes/);
  });

  it('a new secret in the environment is a change of that credential only; settings changes show old → new', async () => {
    const fresh = w.seeded.emu.world.createPat(w.seeded.user.id, {
      scopes: ['vso.code_write', 'vso.project', 'vso.variablegroups_manage', 'vso.profile'],
      orgs: [w.seeded.org],
    }).token;
    writeFile({ hello: 'there', groupName: 'web-vars-2' });
    const audits = await auditCount();
    const result = await keyway(['apply', '-f', file, '--yes'], { ADO_PAT: fresh });
    outputs.push(fresh);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /~ update app connection "ci pat" of project "Platform"\n {6}credential: changed \(from \$ADO_PAT\)/);
    assert.match(result.stdout, /groupName: "web-vars" → "web-vars-2"/);
    assert.match(result.stdout, /Plan: 0 to create, 2 to change/);
    assert.deepEqual((await auditActions(audits)).sort(), ['app_connection.update', 'sync.update']);
    assert.ok(!result.stdout.includes(fresh) && !result.stderr.includes(fresh));
    secrets.ADO_PAT = fresh;
  });

  it('what the file no longer names is left alone and listed; --prune deletes it', async () => {
    writeFile({ hello: 'there', groupName: 'web-vars-2', withSync: false });
    const kept = await keyway(['apply', '-f', file, '--yes']);
    assert.match(kept.stdout, /No changes/);
    assert.match(kept.stdout, /left alone \(--prune deletes them\):\n {2}\? sync "web vars" of project "Platform"/);
    const pruned = await keyway(['apply', '-f', file, '--yes', '--prune']);
    assert.equal(pruned.status, 0, pruned.stderr);
    assert.match(pruned.stdout, /- delete sync "web vars" of project "Platform"/);
    assert.match(pruned.stdout, /deleted sync "web vars"/);
  });

  it('export prints a keyway.yaml that the schema accepts, with references where Keyway keeps values write-only', async () => {
    const result = await keyway(['export']);
    assert.equal(result.status, 0, result.stderr);
    const exported = parseKeywayFile(result.stdout, 'export');
    const platform = exported.projects?.find((p) => p.name === 'Platform');
    assert.equal(platform?.appConnections?.[0]?.name, 'ci pat');
    assert.deepEqual(platform?.appConnections?.[0]?.accessToken, { env: 'KEYWAY_SECRET_PLATFORM_CI_PAT_ACCESS_TOKEN' });
    assert.match(result.stdout, /# {3}KEYWAY_SECRET_AUTOMATION_DEV_AZURE_COM_CLIENT_SECRET/);
    assert.equal(parse(result.stdout).runners[0].integrations[0].pat, true);
  });

  it('errors say what to fix: an unknown runner, a missing environment variable, no token', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: keyway/v1\nrunners:\n  - name: nowhere\n    integrations: []\n');
    const unknown = await keyway(['apply', '-f', join(dir, 'bad.yaml')]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /runners\.nowhere: there is no runner named "nowhere"/);
    writeFile();
    const missing = await keyway(['apply', '-f', file], { API_KEY: '' });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /the environment variable API_KEY is not set/);
    const noToken = await keyway(['apply', '-f', file], { KEYWAY_API_TOKEN: '' });
    assert.equal(noToken.status, 2);
    assert.match(noToken.stderr, /KEYWAY_API_TOKEN/);
  });

  it('credentials without secret: a certificate connection is created from the file with nothing to fill in, applied again it changes nothing, export keeps it secretless', async () => {
    const secretless = join(dir, 'secretless.yaml');
    const app = w.seeded.emu.entra.addApp(w.seeded.emu.defaultTenant.id, { displayName: 'from the file' });
    writeFileSync(
      secretless,
      `apiVersion: keyway/v1
projects:
  - name: Secretless
    appConnections:
      - name: sp certificate
        runner: automation
        method: certificate
        organization: ${w.seeded.org}
        tenantId: ${w.seeded.emu.defaultTenant.id}
        clientId: ${app.app.clientId}
`,
    );
    const first = await keyway(['apply', '-f', secretless, '--yes']);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /\+ create app connection "sp certificate" of project "Secretless"\n\s+certificate on runner "automation"/);
    const connection = await w.plane.database.db
      .selectFrom('app_connections')
      .selectAll()
      .where('name', '=', 'sp certificate')
      .executeTakeFirstOrThrow();
    assert.equal(connection.method, 'certificate');
    assert.equal(connection.status, 'pending', 'it waits for its certificate to be uploaded');
    const again = await keyway(['apply', '-f', secretless, '--yes']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /No changes/);
    const exported = parseKeywayFile((await keyway(['export'])).stdout, 'export');
    const spec = exported.projects?.find((p) => p.name === 'Secretless')?.appConnections?.[0];
    assert.deepEqual([spec?.method, spec?.clientId, spec?.clientSecret], ['certificate', app.app.clientId, undefined]);

    writeFileSync(
      join(dir, 'mixed.yaml'),
      readFileSync(secretless, 'utf8').replace('clientId:', 'clientSecret: { env: ENTRA_SECRET }\n        clientId:'),
    );
    const mixed = await keyway(['apply', '-f', join(dir, 'mixed.yaml')]);
    assert.equal(mixed.status, 2);
    assert.match(mixed.stderr, /a certificate connection has no secret; remove accessToken and clientSecret/);
  });

  it('no secret appears in any plan, output or log', () => {
    const text = [...outputs.filter((o) => !Object.values(secrets).includes(o)).join('\n'), w.plane.logs.text, w.runner.logs.text].join(
      '\n',
    );
    for (const [name, value] of Object.entries(secrets)) assert.ok(!text.includes(value), `${name} leaked`);
  });
});
