import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { databaseKinds } from '../../../test/support/databases.ts';
import { eventually } from '../../../test/support/plane.ts';
import { dumpManagementTables, expectStatus, saveAccessTokenConnection, startAutomationWorld } from '../../../test/support/automation.ts';
import type { AutomationWorld } from '../../../test/support/automation.ts';
import { createSyncScheduler } from './scheduler.ts';
import { forgetSharedRatePacers } from '../../azure-devops/pacing.ts';

const VG_POST = 'POST /{org}/_apis/distributedtask/variablegroups';
const VG_PUT = 'PUT /{org}/_apis/distributedtask/variablegroups/{groupId}';

interface Run {
  id: string;
  status: string;
  trigger: string;
  counts: { created: number; updated: number; deleted: number; unchanged: number } | null;
  writes: number | null;
  requests: number | null;
  retries: number | null;
  durationMs: number | null;
  groupId: number | null;
  error: string | null;
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`Variable group syncs (${kind})`, { skip }, () => {
    let w: AutomationWorld;
    let connectionId: string;
    const secrets = new Map<string, string>();
    const syncs = () => `/api/v1/projects/${w.projectId}/syncs`;

    before(async () => {
      w = await startAutomationWorld(kind);
      // Members may point syncs at any group of the seeded project (the adoption rule still guards existing groups).
      const saved = await addConnection('pipelines', { memberTargets: [{ project: w.seeded.project }] });
      connectionId = saved.connection.id;
      assert.deepEqual(saved.connection.memberTargets, [{ organization: w.seeded.org, project: w.seeded.project, groupPattern: null }]);
    });
    after(async () => w?.close());

    const writes = () => {
      const calls = w.seeded.emu.counters().restCalls;
      return { post: calls[VG_POST] ?? 0, put: calls[VG_PUT] ?? 0 };
    };
    const group = (name: string) =>
      w.seeded.emu.world.listVariableGroups(w.seeded.emu.world.requireOrganization(w.seeded.org)).find((g) => g.name === name);
    const read = (groupId: number, name: string) => w.seeded.emu.world.readVariable(w.seeded.org, groupId, name);

    /** An owner's access-token connection to the seeded organization, for the world's project. */
    const addConnection = (name: string, extra: Record<string, unknown> = {}) =>
      saveAccessTokenConnection(w, { name, accessToken: w.seeded.pat, ...extra });
    /** An owner's sync: the payload is sent as is, so it may name what members may not (adoption, take-over, other projects). */
    async function ownerCreatesSync(payload: Record<string, unknown>) {
      return expectStatus(await w.plane.adminBrowser.request({ method: 'POST', url: syncs(), payload }), 201).json();
    }
    /** A member's change to a sync's variables; the response names the run the change queued. */
    async function changeVariables(syncId: string, change: { set?: { name: string; value: string }[]; remove?: string[] }) {
      return expectStatus(
        await w.plane.memberBrowser.request({ method: 'PATCH', url: `${syncs()}/${syncId}/variables`, payload: change }),
        200,
      ).json();
    }
    async function replaceVariables(syncId: string, variables: { name: string; value: string; isSecret?: boolean }[]) {
      return expectStatus(
        await w.plane.memberBrowser.request({ method: 'PUT', url: `${syncs()}/${syncId}/variables`, payload: { variables } }),
        200,
      ).json();
    }
    async function listRuns(syncId: string): Promise<Run[]> {
      return expectStatus(await w.plane.memberBrowser.request({ method: 'GET', url: `${syncs()}/${syncId}/runs` }), 200).json()
        .runs as Run[];
    }

    async function createSync(body: Record<string, unknown>) {
      return expectStatus(
        await w.plane.memberBrowser.request({
          method: 'POST',
          url: syncs(),
          payload: { connectionId, project: w.seeded.project, ...body },
        }),
        201,
      ).json() as { sync: { id: string }; runId?: string };
    }
    async function runNow(syncId: string): Promise<Run> {
      return expectStatus(await w.plane.memberBrowser.request({ method: 'POST', url: `${syncs()}/${syncId}/run` }), 200).json() as Run;
    }
    async function runById(syncId: string, runId: string): Promise<Run> {
      return eventually(
        async () => {
          const run = (await listRuns(syncId)).find((r) => r.id === runId);
          return run && (run.status === 'succeeded' || run.status === 'failed') ? run : undefined;
        },
        `run ${runId} to finish`,
        30_000,
      );
    }

    it('1,000 variables into a new group: one create; a no-op rerun writes nothing; one change writes exactly once; secrets survive and are never read back', async () => {
      const variables = Array.from({ length: 1000 }, (_, i) => {
        const isSecret = i % 10 === 0;
        const value = isSecret ? `s3cr3t-${randomUUID()}` : `value-${i}`;
        if (isSecret) secrets.set(`VAR_${i}`, value);
        return { name: `VAR_${i}`, value, isSecret };
      });
      w.seeded.emu.resetCounters();
      let t = Date.now();
      const created = await createSync({ name: 'big', groupName: 'big-group', variables });
      assert.ok(created.runId, 'a change run starts with the variables');
      const first = await runById(created.sync.id, created.runId);
      const firstMs = Date.now() - t;
      assert.equal(first.status, 'succeeded', first.error ?? '');
      assert.equal(first.trigger, 'change');
      assert.deepEqual(first.counts, { created: 1000, updated: 0, deleted: 0, unchanged: 0 });
      assert.equal(first.writes, 1);
      assert.deepEqual(writes(), { post: 1, put: 0 });
      const g = group('big-group');
      assert.ok(g && first.groupId === g.id);
      assert.equal(g.variables.size, 1000);
      for (const [name, value] of secrets) assert.equal(read(g.id, name), value, `${name} holds its secret value`);
      // Azure DevOps (here: the emulator) never returns a secret's value.
      const listed = await fetch(
        `${w.seeded.orgUrl}/${w.seeded.project}/_apis/distributedtask/variablegroups?groupName=big-group&api-version=7.1`,
        { headers: { authorization: `Basic ${Buffer.from(`:${w.seeded.pat}`).toString('base64')}` } },
      );
      const body = await listed.text();
      for (const value of secrets.values()) assert.ok(!body.includes(value));

      w.seeded.emu.resetCounters();
      t = Date.now();
      const noop = await runNow(created.sync.id);
      const noopMs = Date.now() - t;
      assert.equal(noop.status, 'succeeded', noop.error ?? '');
      assert.deepEqual(noop.counts, { created: 0, updated: 0, deleted: 0, unchanged: 1000 });
      assert.equal(noop.writes, 0);
      assert.deepEqual(writes(), { post: 0, put: 0 });
      const noopRequests = Object.values(w.seeded.emu.counters().restCalls).reduce((a, b) => a + b, 0);

      w.seeded.emu.resetCounters();
      t = Date.now();
      const changed = await changeVariables(created.sync.id, { set: [{ name: 'VAR_5', value: 'changed' }] });
      assert.equal(changed.variables.length, 1000);
      const one = await runById(created.sync.id, changed.runId);
      const oneMs = Date.now() - t;
      assert.equal(one.status, 'succeeded', one.error ?? '');
      assert.deepEqual(one.counts, { created: 0, updated: 1, deleted: 0, unchanged: 999 });
      assert.equal(one.writes, 1);
      assert.deepEqual(writes(), { post: 0, put: 1 });
      assert.equal(read(g.id, 'VAR_5'), 'changed');
      for (const [name, value] of secrets) assert.equal(read(g.id, name), value, `${name} survives the rewrite`);

      // The management plane knows names and flags only.
      const view = expectStatus(await w.plane.memberBrowser.request({ method: 'GET', url: `${syncs()}/${created.sync.id}` }), 200);
      assert.equal(view.json().variableCount, 1000);
      assert.deepEqual(view.json().variables[0], { name: 'VAR_0', isSecret: true });
      console.log(
        `1,000 variables: first run ${firstMs} ms (runner ${first.durationMs} ms, ${first.requests} requests), no-op ${noopMs} ms (${noopRequests} requests), one change ${oneMs} ms (${one.requests} requests)`,
      );
    });

    it("an owner's adoption: the sync writes into the existing group, takes over only what the owner allowed, and removes only what it created", async () => {
      const world = w.seeded.emu.world;
      const org = world.requireOrganization(w.seeded.org);
      const pre = world.addVariableGroup(w.seeded.org, {
        name: 'shared-group',
        variables: { FOREIGN: { value: 'f' }, FOREIGN_SECRET: { value: 'keep-me', isSecret: true }, PREEXISTING: { value: 'old' } },
        projects: [{ project: w.seeded.project }],
        createdBy: w.seeded.user.id,
      });
      const created = (await ownerCreatesSync({
        connectionId,
        project: w.seeded.project,
        name: 'shared',
        groupName: 'shared-group',
        adoptExisting: true,
        takeOver: ['PREEXISTING'],
        variables: [
          { name: 'MINE', value: '1' },
          { name: 'PREEXISTING', value: 'new' },
        ],
      })) as { sync: { id: string; adoptExisting: boolean; takeOver: string[] }; runId: string };
      assert.equal(created.sync.adoptExisting, true);
      assert.deepEqual(created.sync.takeOver, ['PREEXISTING']);
      const first = await runById(created.sync.id, created.runId);
      assert.equal(first.status, 'succeeded', first.error ?? '');
      assert.deepEqual(first.counts, { created: 1, updated: 1, deleted: 0, unchanged: 0 });
      assert.equal(first.groupId, pre.id, 'the existing group is used, not a new one');

      // A member adds a variable the group already had and Keyway never wrote: the run writes nothing.
      const grabbed = await changeVariables(created.sync.id, {
        set: [
          { name: 'foreign', value: 'hijacked' },
          { name: 'MINE', value: '2' },
        ],
      });
      const refused = await runById(created.sync.id, grabbed.runId);
      assert.equal(refused.status, 'failed');
      assert.match(
        refused.error ?? '',
        /already holds 'FOREIGN', which Keyway did not write; Keyway changes only variables it wrote, so nothing was written/,
      );
      assert.equal(read(pre.id, 'FOREIGN'), 'f');
      assert.equal(read(pre.id, 'MINE'), '1', 'not even the allowed change was written');
      await changeVariables(created.sync.id, { remove: ['foreign'] });
      await w.plane.app.projectAutomation.scheduler.idle();
      assert.equal(read(pre.id, 'MINE'), '2');

      const removed = await changeVariables(created.sync.id, { remove: ['MINE', 'PREEXISTING'] });
      assert.deepEqual(removed.variables, []);
      const second = await runById(created.sync.id, removed.runId);
      assert.equal(second.status, 'succeeded', second.error ?? '');
      assert.deepEqual(second.counts, { created: 0, updated: 0, deleted: 1, unchanged: 0 });
      const after = world.variableGroup(org, pre.id)!;
      assert.deepEqual([...after.variables.keys()].sort(), ['FOREIGN', 'FOREIGN_SECRET', 'PREEXISTING']);
      assert.equal(read(pre.id, 'FOREIGN_SECRET'), 'keep-me');
      assert.equal(read(pre.id, 'PREEXISTING'), 'new');

      // An owner withdrawing the adoption stops the writes into the group.
      expectStatus(
        await w.plane.adminBrowser.request({ method: 'PATCH', url: `${syncs()}/${created.sync.id}`, payload: { adoptExisting: false } }),
        200,
      );
      const withdrawn = await runNow(created.sync.id);
      assert.equal(withdrawn.status, 'failed');
      assert.match(withdrawn.error ?? '', /a project owner has since withdrawn the adoption/);
    });

    it("a member cannot point a sync at another team's existing group: refused by the connection's targets, by ownership, and at run time; every attempt is audited", async () => {
      const world = w.seeded.emu.world;
      const prod = world.addVariableGroup(w.seeded.org, {
        name: 'prod-release',
        variables: {
          DEPLOY_TARGET: { value: 'https://deploy.example.test' },
          SIGNING_KEY: { value: 'release-signing-value', isSecret: true },
        },
        projects: [{ project: w.seeded.project }],
        createdBy: w.seeded.user.id,
      });
      const snapshot = () => ({
        target: read(prod.id, 'DEPLOY_TARGET'),
        key: read(prod.id, 'SIGNING_KEY'),
        names: [...world.variableGroup(world.requireOrganization(w.seeded.org), prod.id)!.variables.keys()].sort(),
      });
      const original = snapshot();
      const attack = {
        connectionId,
        project: w.seeded.project,
        name: 'innocent',
        groupName: 'prod-release',
        variables: [{ name: 'DEPLOY_TARGET', value: 'https://attacker.example.test' }],
      };

      // Members may not adopt or take over, whatever the connection allows.
      for (const extra of [{ adoptExisting: true }, { takeOver: ['DEPLOY_TARGET'] }]) {
        const res = expectStatus(
          await w.plane.memberBrowser.request({ method: 'POST', url: syncs(), payload: { ...attack, ...extra } }),
          403,
        ).json();
        assert.equal(res.error.code, 'owner_required');
      }
      // Allowed to target the project, the member's sync is created, but its run refuses the foreign group.
      const created = await createSync({ name: attack.name, groupName: attack.groupName, variables: attack.variables });
      const run = await runById(created.sync.id, created.runId!);
      assert.equal(run.status, 'failed');
      assert.match(
        run.error ?? '',
        /a variable group named 'prod-release' already exists in Azure DevOps project '.*', and this sync did not create it/,
      );
      assert.match(run.error ?? '', /ask an owner of the Keyway project to adopt 'prod-release'/);
      assert.deepEqual(snapshot(), original, 'the group is untouched');

      // Retargeting an owner's adopted sync at it: the adoption does not follow the sync to another group.
      const owned = await ownerCreatesSync({
        connectionId,
        project: w.seeded.project,
        name: 'team-vars',
        groupName: 'team-vars',
        variables: [{ name: 'DEPLOY_TARGET', value: 'https://attacker.example.test' }],
      });
      assert.equal((await runById(owned.sync.id, owned.runId)).status, 'succeeded');
      const moved = expectStatus(
        await w.plane.memberBrowser.request({
          method: 'PATCH',
          url: `${syncs()}/${owned.sync.id}`,
          payload: { groupName: 'prod-release' },
        }),
        200,
      ).json();
      assert.equal(moved.adoptExisting, false);
      const movedRun = await runNow(owned.sync.id);
      assert.equal(movedRun.status, 'failed');
      assert.match(movedRun.error ?? '', /this sync did not create it/);
      assert.deepEqual(snapshot(), original, 'the group is untouched');

      // A connection that pins members to team-* groups refuses the target outright; one with no targets refuses members entirely.
      const narrow = (await addConnection('narrow', { memberTargets: [{ project: w.seeded.project, groupPattern: 'team-*' }] })).connection
        .id as string;
      const closed = (await addConnection('owners only')).connection.id as string;
      const outside = expectStatus(
        await w.plane.memberBrowser.request({ method: 'POST', url: syncs(), payload: { ...attack, name: 'narrow', connectionId: narrow } }),
        403,
      ).json();
      assert.equal(outside.error.code, 'target_not_allowed');
      assert.match(outside.error.message, /lets project members target only .*\/team-\*/);
      expectStatus(
        await w.plane.memberBrowser.request({
          method: 'POST',
          url: syncs(),
          payload: { ...attack, name: 'team-a', groupName: 'TEAM-a', connectionId: narrow },
        }),
        201,
      );
      const none = expectStatus(
        await w.plane.memberBrowser.request({ method: 'POST', url: syncs(), payload: { ...attack, name: 'closed', connectionId: closed } }),
        403,
      ).json();
      assert.equal(none.error.code, 'owner_required');
      assert.equal(none.error.field, 'connectionId');
      // Moving an existing sync onto the closed connection is a retarget too.
      const hop = expectStatus(
        await w.plane.memberBrowser.request({ method: 'PATCH', url: `${syncs()}/${created.sync.id}`, payload: { connectionId: closed } }),
        403,
      ).json();
      assert.equal(hop.error.code, 'owner_required');
      // Members still change what is theirs to change.
      expectStatus(
        await w.plane.memberBrowser.request({ method: 'PATCH', url: `${syncs()}/${created.sync.id}`, payload: { scheduleMinutes: 60 } }),
        200,
      );
      assert.deepEqual(snapshot(), original);

      // Widening a connection's member targets is recorded with both sides.
      expectStatus(
        await w.plane.adminBrowser.request({
          method: 'PATCH',
          url: `/api/v1/projects/${w.projectId}/app-connections/${narrow}`,
          payload: {
            memberTargets: [
              { project: w.seeded.project, groupPattern: 'team-*' },
              { project: w.seeded.project, groupPattern: 'shared-*' },
            ],
          },
        }),
        200,
      );
      expectStatus(
        await w.plane.memberBrowser.request({
          method: 'PATCH',
          url: `/api/v1/projects/${w.projectId}/app-connections/${narrow}`,
          payload: { memberTargets: [{ project: w.seeded.project }] },
        }),
        403,
      );

      // The audit log holds every change with its target before and after, and every refusal.
      const events = expectStatus(await w.plane.adminBrowser.request({ method: 'GET', url: '/api/v1/audit-events?limit=500' }), 200).json()
        .events as { action: string; outcome: string; targetId?: string; target?: { id?: string }; details: Record<string, unknown> }[];
      const forSync = (id: string) => events.filter((e) => (e.targetId ?? e.target?.id) === id);
      const move = forSync(owned.sync.id).find(
        (e) => e.action === 'sync.update' && e.outcome === 'success' && (e.details.fields as string[]).includes('groupName'),
      );
      assert.ok(move, 'the retarget is audited');
      assert.equal((move.details.before as { groupName: string }).groupName, 'team-vars');
      assert.equal((move.details.after as { groupName: string }).groupName, 'prod-release');
      const refusedHop = forSync(created.sync.id).find((e) => e.action === 'sync.update' && e.outcome === 'failure');
      assert.equal(refusedHop?.details.reason, 'owner_required');
      assert.equal((refusedHop?.details.requested as { connectionId: string }).connectionId, closed);
      const refusedCreates = events.filter((e) => e.action === 'sync.create' && e.outcome === 'failure').map((e) => e.details.reason);
      assert.deepEqual(refusedCreates.filter((r) => r === 'owner_required').length, 3);
      assert.ok(refusedCreates.includes('target_not_allowed'));
      const widened = events.find(
        (e) => e.action === 'app_connection.update' && e.outcome === 'success' && (e.targetId ?? e.target?.id) === narrow,
      );
      assert.deepEqual(widened?.details.memberTargets, {
        before: [{ organization: w.seeded.org, project: w.seeded.project, groupPattern: 'team-*' }],
        after: [
          { organization: w.seeded.org, project: w.seeded.project, groupPattern: 'team-*' },
          { organization: w.seeded.org, project: w.seeded.project, groupPattern: 'shared-*' },
        ],
      });
      const createdEvent = forSync(created.sync.id).find((e) => e.action === 'sync.create');
      assert.deepEqual(createdEvent?.details.before, null);
      assert.equal((createdEvent?.details.after as { groupName: string }).groupName, 'prod-release');
    });

    it('under injected 429 (Retry-After) and 5xx the sync completes with the right final state', async () => {
      const { emu } = w.seeded;
      const created = await createSync({ name: 'flaky', groupName: 'flaky-group' });
      const set = await replaceVariables(created.sync.id, [
        { name: 'A', value: '1' },
        { name: 'S', value: 'flaky-secret', isSecret: true },
      ]);
      await runById(created.sync.id, set.runId);
      const g = group('flaky-group')!;

      emu.faults.add({ listener: 'services', method: 'GET', path: '/**/variablegroups', action: 'status', status: 503, times: 2 });
      emu.faults.add({
        listener: 'services',
        method: 'PUT',
        path: '/**/variablegroups/*',
        action: 'throttle',
        retryAfterSeconds: 1,
        times: 2,
      });
      await changeVariables(created.sync.id, {
        set: [
          { name: 'A', value: '2' },
          { name: 'B', value: 'b' },
        ],
      });
      const runs = await listRuns(created.sync.id);
      const run = await runById(created.sync.id, runs[0]!.id);
      assert.equal(run.status, 'succeeded', run.error ?? '');
      assert.ok((run.retries ?? 0) >= 4, `retried: ${run.retries}`);
      assert.equal(run.writes, 1);
      assert.equal(read(g.id, 'A'), '2');
      assert.equal(read(g.id, 'B'), 'b');
      assert.equal(read(g.id, 'S'), 'flaky-secret');

      // A POST lost to a 5xx is not retried blindly: the next attempt reads again, then creates.
      emu.faults.clear();
      emu.faults.add({ listener: 'services', method: 'POST', path: '/**/variablegroups', action: 'status', status: 503, times: 1 });
      const fresh = await createSync({ name: 'flaky-create', groupName: 'flaky-create-group', variables: [{ name: 'X', value: 'x' }] });
      const createdRun = await runById(fresh.sync.id, fresh.runId!);
      assert.equal(createdRun.status, 'succeeded', createdRun.error ?? '');
      assert.equal(
        w.seeded.emu.world
          .listVariableGroups(w.seeded.emu.world.requireOrganization(w.seeded.org))
          .filter((x) => x.name === 'flaky-create-group').length,
        1,
      );

      // Throttled for longer than the client waits: the run fails in words, the set stays, the next run catches up.
      emu.faults.clear();
      emu.faults.add({ listener: 'services', method: 'PUT', path: '/**/variablegroups/*', action: 'throttle', retryAfterSeconds: 120 });
      const earlier = new Set((await listRuns(created.sync.id)).map((r) => r.id));
      await changeVariables(created.sync.id, { set: [{ name: 'C', value: 'c' }] });
      // The change queues its run; wait for that run rather than reading whichever is listed first.
      let failedId: string | undefined;
      for (let i = 0; i < 100 && !failedId; i++) {
        failedId = (await listRuns(created.sync.id)).find((r) => !earlier.has(r.id))?.id;
        if (!failedId) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(failedId, 'the change queued a run');
      const failed = await runById(created.sync.id, failedId);
      assert.equal(failed.status, 'failed');
      // The first attempt is told to wait 120 s; later attempts of the run do not even send (the
      // client's pacer keeps the Retry-After for every request with this credential), so the wait left is named.
      assert.match(failed.error ?? '', /Azure DevOps is throttling this credential; retry in 1[01]\d s/);
      const kept = expectStatus(await w.plane.memberBrowser.request({ method: 'GET', url: `${syncs()}/${created.sync.id}` }), 200).json();
      assert.deepEqual(
        kept.variables.map((v: { name: string }) => v.name),
        ['A', 'B', 'C', 'S'],
      );
      assert.equal(kept.lastRun.status, 'failed');
      emu.faults.clear();
      // Two minutes later, as far as the client's pacer is concerned: the Retry-After has passed.
      forgetSharedRatePacers();
      const recovered = await runNow(created.sync.id);
      assert.equal(recovered.status, 'succeeded', recovered.error ?? '');
      assert.equal(read(g.id, 'C'), 'c');
      assert.equal(read(g.id, 'S'), 'flaky-secret');
    });

    it('a failure names its cause: an unknown Azure DevOps project', async () => {
      // Outside the connection's member targets: an owner's sync.
      const created = await ownerCreatesSync({
        connectionId,
        name: 'lost',
        groupName: 'g',
        project: 'NoSuchProject',
        variables: [{ name: 'A', value: '1' }],
      });
      const run = await runById(created.sync.id, created.runId!);
      assert.equal(run.status, 'failed');
      assert.match(run.error ?? '', /Azure DevOps project 'NoSuchProject' was not found in organization/);
    });

    it('runs on a schedule; two replicas claiming the same due sync start one run', async () => {
      const created = await createSync({ name: 'scheduled', groupName: 'scheduled-group', scheduleMinutes: 5 });
      await replaceVariables(created.sync.id, [{ name: 'TICK', value: '1' }]);
      await w.plane.app.projectAutomation.scheduler.idle();
      const before = (await listRuns(created.sync.id)).length;
      await w.plane.database.db
        .updateTable('variable_syncs')
        .set({ next_run_at: new Date(Date.now() - 1000).toISOString() })
        .where('id', '=', created.sync.id)
        .execute();

      const automation = w.plane.app.projectAutomation;
      const replica = createSyncScheduler({
        db: w.plane.database.db,
        control: w.plane.core.control,
        connection: async (sync) => {
          const row = await automation.connections.forProject(sync.project_id, sync.connection_id);
          return { runnerId: row.runner_id, connection: await automation.connections.toRunner(row) };
        },
      });
      await Promise.all([automation.scheduler.tick(), replica.tick()]);
      await Promise.all([automation.scheduler.idle(), replica.idle()]);
      const runs = await listRuns(created.sync.id);
      assert.equal(runs.length, before + 1, JSON.stringify(runs));
      assert.equal(runs[0]!.trigger, 'schedule');
      assert.equal(runs[0]!.status, 'succeeded', runs[0]!.error ?? '');
      const row = await w.plane.database.db
        .selectFrom('variable_syncs')
        .select('next_run_at')
        .where('id', '=', created.sync.id)
        .executeTakeFirstOrThrow();
      assert.ok(row.next_run_at && Date.parse(row.next_run_at) > Date.now() + 4 * 60_000, 'next run moved a schedule interval ahead');
    });

    it("another project's member cannot see or run a sync; bad input names the field", async () => {
      const created = await createSync({ name: 'private', groupName: 'private-group' });
      for (const [method, url] of [
        ['GET', `${syncs()}/${created.sync.id}`],
        ['POST', `${syncs()}/${created.sync.id}/run`],
        ['GET', `${syncs()}/${created.sync.id}/runs`],
      ] as const) {
        expectStatus(await w.outsider.request({ method, url }), 404);
      }
      expectStatus(
        await w.outsider.request({ method: 'PUT', url: `${syncs()}/${created.sync.id}/variables`, payload: { variables: [] } }),
        404,
      );
      // A refused retarget by someone who may not see the project records nothing of the sync's target:
      // the log it lands in is the caller's, and the sync is not theirs to see.
      expectStatus(
        await w.outsider.request({ method: 'PATCH', url: `${syncs()}/${created.sync.id}`, payload: { groupName: 'elsewhere' } }),
        404,
      );
      const log = expectStatus(
        await w.plane.adminBrowser.request({ method: 'GET', url: '/api/v1/audit-events?action=sync.update&limit=500' }),
        200,
      ).json() as { events: { target: { id: string } | null; details: Record<string, unknown> }[] };
      const onPrivate = log.events.filter((e) => e.target?.id === created.sync.id);
      assert.ok(!JSON.stringify(onPrivate).includes('private-group'), JSON.stringify(onPrivate));
      for (const [payload, field] of [
        [{ variables: [{ name: 'has space', value: 'x' }] }, 'variables.0.name'],
        [
          {
            variables: [
              { name: 'A', value: '1' },
              { name: 'a', value: '2' },
            ],
          },
          'variables.1.name',
        ],
        [{ variables: [{ name: 'A' }] }, 'variables.0.value'],
      ] as const) {
        const res = expectStatus(
          await w.plane.memberBrowser.request({ method: 'PUT', url: `${syncs()}/${created.sync.id}/variables`, payload }),
          400,
        ).json();
        assert.equal(res.error.field, field, JSON.stringify(res));
      }
      const schedule = expectStatus(
        await w.plane.memberBrowser.request({ method: 'PATCH', url: `${syncs()}/${created.sync.id}`, payload: { scheduleMinutes: 1 } }),
        400,
      ).json();
      assert.equal(schedule.error.field, 'scheduleMinutes');
    });

    it('deleting a sync makes the runner forget its values; no secret value is in any management-plane row, response or log', async () => {
      await w.plane.app.projectAutomation.scheduler.idle();
      const tables = await dumpManagementTables(w.plane);
      const audit = (await w.plane.adminBrowser.request({ method: 'GET', url: '/api/v1/audit-events?limit=500' })).body;
      for (const value of [...secrets.values(), 'flaky-secret', 'release-signing-value', w.seeded.pat]) {
        assert.ok(!tables.includes(value), 'management-plane row');
        assert.ok(!audit.includes(value), 'audit');
        assert.ok(!w.plane.logs.text.includes(value), 'management log');
        assert.ok(!w.runner.logs.text.includes(value), 'runner log');
      }
      const list = expectStatus(await w.plane.memberBrowser.request({ method: 'GET', url: syncs() }), 200);
      for (const value of secrets.values()) assert.ok(!list.body.includes(value));
      const big = (list.json().syncs as { id: string; name: string }[]).find((s) => s.name === 'big')!;
      const runnerDb = w.runner.store.database.db;
      assert.equal((await runnerDb.selectFrom('sync_variables').select('id').where('sync_id', '=', big.id).execute()).length, 1000);
      expectStatus(await w.plane.memberBrowser.request({ method: 'DELETE', url: `${syncs()}/${big.id}` }), 204);
      await eventually(
        async () => (await runnerDb.selectFrom('sync_variables').select('id').where('sync_id', '=', big.id).execute()).length === 0,
        'runner forgets the values',
      );
      assert.ok(group('big-group'), 'the Azure DevOps group stays');
    });
  });
}
