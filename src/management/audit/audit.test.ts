import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { Insertable, KyselyPlugin } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { databaseKinds } from '../../../test/support/databases.ts';
import { Browser, founderOfNewOrganization, startTestManagement } from '../../../test/support/management.ts';
import type { TestManagement } from '../../../test/support/management.ts';
import { createAuditLog } from './service.ts';
import type { AuditEventView } from './service.ts';

// The audit log as an admin reads it over HTTP: every filter, the names of actors and targets read
// at request time (in one query per kind of thing), paging that keeps the filters, the errors for
// bad filters, and the walls: members get 403 and one organization never sees another's events.

interface Page {
  events: AuditEventView[];
  nextCursor: string | null;
}

/** A raw X25519 public key in base64url, as a runner sends it at exchange. */
function runnerPublicKey(): string {
  return generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x!;
}

const at = (iso: string) => () => new Date(iso);

/** An organization admin signed in with a session, as the audit log's actor. */
const adminOf = (userId: string, email: string, organizationId: string) => ({
  kind: 'user' as const,
  userId,
  email,
  operator: false,
  organizationId,
  role: 'admin' as const,
  via: 'session' as const,
});

for (const { kind, skip } of await databaseKinds()) {
  describe(`audit log with names and filters (${kind})`, { skip }, () => {
    let t: TestManagement;
    let admin: Browser;
    let member: Browser;
    const ids = {
      runner: '',
      project: '',
      token: '',
      otherOrg: '',
      otherAdmin: '',
      otherRunner: '',
      integration: '',
      connection: '',
      sync: '',
      environment: '',
    };

    const get = async (query: string) => {
      const res = await admin.request({ method: 'GET', url: `/api/v1/audit-events${query ? `?${query}` : ''}` });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as Page;
    };

    /** Every page of a query, following nextCursor. */
    const all = async (query: string, limit: number) => {
      const events: AuditEventView[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await get(`${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.ok(page.events.length <= limit);
        events.push(...page.events);
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 50);
      return { events, pages };
    };

    before(async () => {
      t = await startTestManagement(kind);
      const db = t.database.db;
      await db.updateTable('users').set({ display_name: 'Ada Admin' }).where('id', '=', t.admin.id).execute();
      await db.updateTable('users').set({ display_name: 'Mo Member' }).where('id', '=', t.member.id).execute();
      admin = new Browser(t.app);
      member = new Browser(t.app);
      assert.equal((await admin.signIn(t.admin.email, t.admin.password)).statusCode, 200);
      assert.equal((await member.signIn(t.member.email, t.member.password)).statusCode, 200);

      // Real actions over HTTP, each recorded by the route that did it.
      for (const name of ['build-01', 'build-02', 'build-03', 'build-04', 'build-05']) {
        const created = await admin.request({ method: 'POST', url: '/api/v1/runners', payload: { name } });
        assert.equal(created.statusCode, 201, created.body);
        if (name === 'build-01') {
          ids.runner = created.json().runner.id;
          // The runner registers: an event whose actor is the runner itself.
          const exchange = await t.app.inject({
            method: 'POST',
            url: '/api/v1/runner/exchange',
            payload: { exchangeToken: created.json().exchangeToken, publicKey: runnerPublicKey(), version: 'test' },
          });
          assert.equal(exchange.statusCode, 200, exchange.body);
        }
      }
      const project = await admin.request({ method: 'POST', url: '/api/v1/projects', payload: { name: 'Payments' } });
      assert.equal(project.statusCode, 201, project.body);
      ids.project = project.json().id;
      assert.equal(
        (
          await admin.request({
            method: 'POST',
            url: `/api/v1/projects/${ids.project}/members`,
            payload: { userId: t.member.id, role: 'member' },
          })
        ).statusCode,
        200,
      );
      const token = await member.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'ci token' } });
      assert.equal(token.statusCode, 201, token.body);
      ids.token = token.json().id;
      assert.equal((await member.request({ method: 'GET', url: '/api/v1/audit-events' })).statusCode, 403);

      // Things only a connected runner creates: rows as their services write them, and events naming them.
      const now = new Date().toISOString();
      /** Inserts a row of this organization with `id`, stamped now; returns the id. */
      const insertRow = async <T extends 'scm_integrations' | 'app_connections' | 'variable_syncs' | 'environments'>(
        table: T,
        id: string,
        row: Omit<Insertable<ManagementDB[T]>, 'id' | 'organization_id' | 'created_at' | 'updated_at'>,
      ) => {
        await db
          .insertInto(table)
          .values({ ...row, id, organization_id: t.organizationId, created_at: now, updated_at: now } as never)
          .execute();
        return id;
      };
      ids.integration = await insertRow('scm_integrations', 'int_audit_test', {
        runner_id: ids.runner,
        scm_id: 'azure-devops',
        host: 'ado.example.test',
        virtual_directory: 'tfs',
        oauth_client_id: null,
        oauth_client_secret_sealed: null,
        oauth_issuer_url: null,
        pat_enabled: 1,
        settings: '{}',
        last_test: null,
      });
      ids.connection = await insertRow('app_connections', 'apc_audit_test', {
        project_id: ids.project,
        runner_id: ids.runner,
        name: 'deploy bot',
        method: 'pat',
        ado_organization: 'contoso',
        tenant_id: null,
        client_id: null,
        status: 'active',
        details: '{}',
        last_test: null,
        created_by: t.admin.id,
      });
      ids.sync = await insertRow('variable_syncs', 'vsy_audit_test', {
        project_id: ids.project,
        connection_id: ids.connection,
        name: 'app settings',
        ado_organization: 'contoso',
        ado_project: 'Web',
        group_name: 'settings',
        description: null,
        variables: '[]',
        variables_revision: 0,
        enabled: 1,
        schedule_minutes: null,
        next_run_at: null,
        running_run_id: null,
        running_since: null,
        last_run_id: null,
        adopt_existing: 0,
        take_over: '[]',
        created_by: t.admin.id,
      });
      ids.environment = await insertRow('environments', 'env_audit_test', {
        user_id: t.member.id,
        runner_id: ids.runner,
        integration_id: ids.integration,
        context_url: 'https://ado.example.test/tfs/contoso/Web/_git/site',
        repository: JSON.stringify({
          kind: 'server',
          host: 'ado.example.test',
          organization: 'contoso',
          project: 'Web',
          repository: 'site',
          webUrl: 'https://ado.example.test/tfs/contoso/Web/_git/site',
        }),
        ref: null,
        status: 'ready',
        progress: null,
        error: null,
        workspace_path: null,
        checkout: null,
      });
      const adminPrincipal = adminOf(t.admin.id, t.admin.email, t.organizationId);
      for (const [action, type, id] of [
        ['scm_integration.update', 'scm_integration', ids.integration],
        ['app_connection.test', 'app_connection', ids.connection],
        ['sync.run', 'sync', ids.sync],
        ['environment.delete', 'environment', ids.environment],
        ['project.create', 'project', 'prj_deleted_long_ago'],
        ['organization.create', 'organization', t.organizationId],
      ] as const) {
        await t.core.audit.record({ actor: adminPrincipal, action, target: { type, id }, outcome: 'success' });
      }

      // Older events at known times, for the time filters.
      for (const [iso, action] of [
        ['2024-01-10T08:00:00.000Z', 'member.join'],
        ['2024-01-10T12:00:00.000Z', 'member.role_change'],
        ['2024-01-11T00:00:00.000Z', 'member.join'],
      ] as const) {
        await createAuditLog(db, at(iso)).record({
          actor: adminPrincipal,
          action,
          target: { type: 'user', id: t.member.id },
          outcome: 'success',
        });
      }

      // Another organization with its own admin, runner and events, one of which names this organization's runner.
      const { user: other, organization: otherOrg } = await founderOfNewOrganization(
        t,
        { email: 'boss@other.test', password: 'other-password-long' },
        'Other Org',
      );
      ids.otherAdmin = other.id;
      ids.otherOrg = otherOrg.id;
      const otherRunner = await t.core.runners.create({ organizationId: otherOrg.id, name: 'other-runner', createdBy: other.id });
      ids.otherRunner = otherRunner.runner.id;
      const otherPrincipal = adminOf(other.id, 'boss@other.test', otherOrg.id);
      for (const [action, type, id] of [
        ['runner.create', 'runner', ids.otherRunner],
        ['runner.revoke', 'runner', ids.runner],
        ['project.member.set', 'project', ids.project],
      ] as const) {
        await t.core.audit.record({ actor: otherPrincipal, action, target: { type, id }, outcome: 'success' });
      }
    });
    after(async () => t?.close());

    it('names actors and targets beside their ids', async () => {
      const { events } = await get('limit=500');
      const find = (action: string, targetId?: string) => {
        const e = events.find((x) => x.action === action && (targetId === undefined || x.target?.id === targetId));
        assert.ok(e, `an event ${action}${targetId ? ` on ${targetId}` : ''}`);
        return e;
      };
      const created = find('runner.create', ids.runner);
      assert.deepEqual(created.actor, { type: 'user', id: t.admin.id, label: t.admin.email, name: 'Ada Admin' });
      assert.deepEqual(created.target, { type: 'runner', id: ids.runner, name: 'build-01' });
      const registered = find('runner.register');
      assert.deepEqual(registered.actor, { type: 'runner', id: ids.runner, label: 'build-01', name: 'build-01' });
      assert.deepEqual(find('project.create', ids.project).target, { type: 'project', id: ids.project, name: 'Payments' });
      const token = find('api_token.create');
      assert.equal(token.actor.name, 'Mo Member');
      assert.deepEqual(token.target, { type: 'api_token', id: ids.token, name: 'ci token' });
      assert.equal(find('scm_integration.update').target?.name, 'ado.example.test/tfs');
      assert.equal(find('app_connection.test').target?.name, 'deploy bot');
      assert.equal(find('sync.run').target?.name, 'app settings');
      assert.equal(find('environment.delete').target?.name, 'contoso/Web/site');
      assert.equal(find('organization.create').target?.name, 'Acme');
      assert.deepEqual(find('member.role_change').target, { type: 'user', id: t.member.id, name: 'Mo Member' });
      const signIn = events.find((e) => e.action === 'session.sign_in' && e.target?.id === t.member.id);
      assert.deepEqual(
        signIn?.actor,
        { type: 'anonymous', id: null, label: t.member.email, name: null },
        'an anonymous actor keeps its label and has no name',
      );
      assert.equal(signIn?.target?.name, 'Mo Member');
      const denied = find('authorization.denied');
      assert.equal(denied.target?.type, 'route');
      assert.equal(denied.target?.name, null);
    });

    it("shows a target that no longer exists, or is not this organization's, as its id with no name", async () => {
      const gone = (await get('action=project.create&limit=50')).events.find((e) => e.target?.id === 'prj_deleted_long_ago');
      assert.deepEqual(gone?.target, { type: 'project', id: 'prj_deleted_long_ago', name: null });

      // The other organization's admin recorded events naming this organization's runner and project:
      // its log shows the ids it was given, never this organization's names.
      const otherLog = await t.core.audit.list(ids.otherOrg, { limit: 50 });
      const revoke = otherLog.events.find((e) => e.action === 'runner.revoke');
      assert.deepEqual(revoke?.target, { type: 'runner', id: ids.runner, name: null });
      assert.deepEqual(otherLog.events.find((e) => e.action === 'project.member.set')?.target, {
        type: 'project',
        id: ids.project,
        name: null,
      });
      assert.equal(otherLog.events.find((e) => e.action === 'runner.create')?.target?.name, 'other-runner');

      // A user who left the organization is no longer named to it; the recorded label stays.
      const leaver = await t.core.identity.createUser({
        email: 'leaver@acme.test',
        displayName: 'Lee Leaver',
        organizationId: t.organizationId,
        role: 'member',
      });
      const leaverPrincipal = {
        kind: 'user' as const,
        userId: leaver.id,
        email: 'leaver@acme.test',
        operator: false,
        organizationId: t.organizationId,
        role: 'member' as const,
        via: 'session' as const,
      };
      await t.core.audit.record({ actor: leaverPrincipal, action: 'session.sign_out', outcome: 'success' });
      assert.equal((await get(`actorId=${leaver.id}&limit=5`)).events[0]?.actor.name, 'Lee Leaver');
      await t.database.db
        .deleteFrom('memberships')
        .where('organization_id', '=', t.organizationId)
        .where('user_id', '=', leaver.id)
        .execute();
      const after = (await get(`actorId=${leaver.id}&limit=5`)).events[0];
      assert.deepEqual(after?.actor, { type: 'user', id: leaver.id, label: 'leaver@acme.test', name: null });
    });

    it("never shows another organization's events, whatever the filter", async () => {
      const mine = await all('group=runner', 100);
      assert.ok(mine.events.length > 0);
      assert.ok(!mine.events.some((e) => e.actor.id === ids.otherAdmin || e.target?.id === ids.otherRunner));
      assert.deepEqual((await get(`actorId=${ids.otherAdmin}`)).events, []);
      assert.deepEqual((await get(`targetId=${ids.otherRunner}`)).events, []);
      assert.deepEqual((await get(`actorType=user&actorId=${ids.otherAdmin}&group=runner`)).events, []);
      // And the other organization's log holds only its own.
      const theirs = await t.core.audit.list(ids.otherOrg, { limit: 500 });
      assert.ok(theirs.events.length >= 3);
      assert.ok(theirs.events.every((e) => e.actor.id === ids.otherAdmin));
    });

    it('filters by action group, exact action, and both', async () => {
      const runner = (await get('group=runner&limit=500')).events;
      assert.deepEqual([...new Set(runner.map((e) => e.action))].sort(), ['runner.create', 'runner.register']);
      assert.equal(runner.filter((e) => e.action === 'runner.create').length, 5);
      const project = (await get('group=project&limit=500')).events;
      assert.deepEqual([...new Set(project.map((e) => e.action))].sort(), ['project.create', 'project.member.set']);
      // `_` is not a wildcard: scm_integration matches only its own actions.
      const integration = (await get('group=scm_integration&limit=500')).events;
      assert.deepEqual(
        integration.map((e) => e.action),
        ['scm_integration.update'],
      );
      const exact = (await get('action=runner.register')).events;
      assert.equal(exact.length, 1);
      assert.deepEqual(
        (await get('group=runner&action=runner.register')).events.map((e) => e.id),
        exact.map((e) => e.id),
      );
      assert.deepEqual((await get('group=project&action=runner.register')).events, [], 'an action outside the group matches nothing');
    });

    it('filters by actor, actor type and target', async () => {
      const byMember = (await get(`actorId=${t.member.id}&limit=500`)).events;
      assert.deepEqual([...new Set(byMember.map((e) => e.action))].sort(), ['api_token.create', 'authorization.denied']);
      const runners = (await get('actorType=runner')).events;
      assert.deepEqual(
        runners.map((e) => [e.action, e.actor.id]),
        [['runner.register', ids.runner]],
      );
      assert.deepEqual((await get(`actorType=runner&actorId=${t.admin.id}`)).events, [], 'type and id together');
      const anonymous = (await get('actorType=anonymous&limit=500')).events;
      assert.ok(anonymous.length >= 2 && anonymous.every((e) => e.actor.type === 'anonymous' && e.action.startsWith('session.')));

      const onRunner = (await get(`targetId=${ids.runner}&limit=500`)).events;
      assert.deepEqual([...new Set(onRunner.map((e) => e.action))].sort(), ['runner.create', 'runner.register']);
      assert.ok(onRunner.every((e) => e.target?.name === 'build-01'));
      const users = (await get('targetType=user&limit=500')).events;
      assert.ok(users.length >= 5 && users.every((e) => e.target?.type === 'user'));
      const onMember = (await get(`targetType=user&targetId=${t.member.id}&group=member`)).events;
      assert.deepEqual(
        onMember.map((e) => e.action),
        ['member.join', 'member.role_change', 'member.join'],
      );
    });

    it('filters by time: from inclusive, to exclusive, dates as midnight UTC, offsets honoured', async () => {
      const actions = async (query: string) => (await get(`${query}&group=member`)).events.map((e) => e.createdAt);
      assert.deepEqual(await actions('from=2024-01-10&to=2024-01-11'), ['2024-01-10T12:00:00.000Z', '2024-01-10T08:00:00.000Z']);
      assert.deepEqual(await actions('from=2024-01-10T12:00:00Z&to=2024-01-11T00:00:00.001Z'), [
        '2024-01-11T00:00:00.000Z',
        '2024-01-10T12:00:00.000Z',
      ]);
      // 13:00 at +02:00 is 11:00 UTC; in a URL the + is written %2B.
      assert.deepEqual(await actions('from=2024-01-10T13:00:00%2B02:00&to=2024-01-10T23:59:59.999Z'), ['2024-01-10T12:00:00.000Z']);
      assert.deepEqual(await actions('to=2024-01-10T08:00:00Z'), [], 'to is exclusive');
      const recent = await get('from=2025-01-01&limit=500');
      assert.ok(recent.events.length > 0 && recent.events.every((e) => e.createdAt >= '2025-01-01'));
    });

    it('pages through a filtered log without gaps, overlaps or strays', async () => {
      const everything = (await get('group=runner&limit=500')).events;
      assert.equal(everything.length, 6);
      const paged = await all('group=runner', 4);
      assert.equal(paged.pages, 2);
      assert.deepEqual(
        paged.events.map((e) => e.id),
        everything.map((e) => e.id),
      );
      const memberOnly = await all(`actorId=${t.admin.id}&group=member`, 1);
      assert.equal(memberOnly.pages, 3);
      assert.deepEqual(
        memberOnly.events.map((e) => e.createdAt),
        ['2024-01-11T00:00:00.000Z', '2024-01-10T12:00:00.000Z', '2024-01-10T08:00:00.000Z'],
      );
      // The cursor of one query used with another filter still only returns what that filter matches.
      const first = await get('group=runner&limit=2');
      const crossed = await get(`group=project&limit=500&cursor=${encodeURIComponent(first.nextCursor!)}`);
      assert.ok(crossed.events.every((e) => e.action.startsWith('project.')));
    });

    it('reads names with one query per kind of thing, however many events are on the page', async () => {
      let queries = 0;
      const counter: KyselyPlugin = {
        transformQuery: (args) => {
          queries++;
          return args.node;
        },
        transformResult: async (args) => args.result,
      };
      const counted = createAuditLog(t.database.db.withPlugin(counter) as typeof t.database.db);
      const count = async (options: Parameters<typeof counted.list>[1]) => {
        queries = 0;
        const page = await counted.list(t.organizationId, options);
        return {
          queries,
          kinds: new Set(
            page.events.flatMap((e) =>
              [
                e.actor.id && (e.actor.type === 'user' || e.actor.type === 'runner') ? e.actor.type : '',
                e.target?.id ? e.target.type : '',
              ].filter(Boolean),
            ),
          ),
          events: page.events.length,
        };
      };
      const small = await count({ limit: 2, group: 'runner' });
      const large = await count({ limit: 500, group: 'runner' });
      assert.equal(small.events, 2);
      assert.equal(large.events, 6);
      assert.equal(large.queries, small.queries, 'six events cost what two cost');
      // One for the page, one per kind of thing named on it (user and runner here).
      assert.deepEqual([...large.kinds].sort(), ['runner', 'user']);
      assert.equal(large.queries, 1 + large.kinds.size);
      const everything = await count({ limit: 500 });
      assert.ok(everything.events > 20);
      // Routes and host authorizations (held by runners) have no name to read.
      const named = [...everything.kinds].filter((k) => k !== 'route' && k !== 'authorization');
      assert.ok(named.length >= 9, `kinds: ${named.join(', ')}`);
      assert.equal(everything.queries, 1 + named.length, `kinds: ${named.join(', ')}`);
    });

    it('refuses bad filters with 400 naming the field', async () => {
      const cases: [string, string, RegExp][] = [
        ['group=nonsense', 'group', /must be one of: .*scm_integration/],
        ['actorType=robot', 'actorType', /must be one of: user, account, runner/],
        ['targetType=spaceship', 'targetType', /must be one of/],
        ['from=yesterday', 'from', /ISO-8601/],
        ['from=2024-02-30', 'from', /ISO-8601/],
        ['to=2024-01-10T25:00:00Z', 'to', /ISO-8601/],
        ['to=2024-01-10T10:00:00', 'to', /with an offset/],
        ['from=2024-01-10T10:00:00 02:00', 'from', /%2B/],
        ['from=2024-01-11&to=2024-01-10', 'to', /later than from/],
        ['from=2024-01-10&to=2024-01-10', 'to', /later than from/],
        ['cursor=not-a-cursor', 'cursor', /start again without it/],
        ['cursor=2024-01-10T00:00:00.000Z', 'cursor', /start again/],
        ['limit=0', 'limit', /limit/],
        ['limit=501', 'limit', /limit/],
        ['actor=usr_1', 'actor', /unknown field "actor"/],
        [`actorId=${'x'.repeat(101)}`, 'actorId', /actorId/],
        // An empty value is a mistake to point out, not a filter to drop silently.
        ['group=', 'group', /must be one of/],
        ['actorId=', 'actorId', /actorId/],
        ['from=', 'from', /from/],
      ];
      for (const [query, field, message] of cases) {
        const res = await admin.request({ method: 'GET', url: `/api/v1/audit-events?${query}` });
        assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
        const error = res.json().error as { code: string; message: string; field?: string };
        assert.equal(error.field, field, `${query}: ${res.body}`);
        assert.match(error.message, message, query);
      }
    });

    it('answers 403 to a member, with any filter', async () => {
      for (const query of ['', 'group=member', `actorId=${t.member.id}`]) {
        const res = await member.request({ method: 'GET', url: `/api/v1/audit-events?${query}` });
        assert.equal(res.statusCode, 403);
        assert.equal(res.json().error.code, 'forbidden');
      }
    });
  });
}
