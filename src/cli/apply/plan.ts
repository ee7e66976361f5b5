import { randomBytes } from 'node:crypto';
import { seal } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import type { SealedComparisonKind } from '../../control/sealed-comparison.ts';
import { normalizeIssuerUrl } from '../../entra/issuer.ts';
import type { ApiClient } from '../api-client.ts';
import { ApplyFileError, describeRef, isSecretRef } from './load.ts';
import type { SecretResolver } from './load.ts';
import type { AppConnectionSpec, IntegrationSpec, KeywayFile, ProjectSpec, SyncSpec } from './schema.ts';
import { integrationKey, readIntegrations, readProjectContents, readProjects, readRunners, sameName } from './state.ts';
import type { ConnectionState, IntegrationState, ProjectContents, RunnerState, SyncState } from './state.ts';

/**
 * `keyway apply`'s plan: what differs between keyway.yaml and Keyway, as changes that say what they
 * will do (never a secret: only where each secret comes from) and carry the calls that do it.
 * Secrets are sealed here, on this machine, to the runner that will hold them; whether a secret
 * changed is asked of that runner (sealed comparison), so an unchanged file plans nothing.
 */

export interface ApplyContext {
  projectIds: Map<string, string>;
}

export interface PlannedChange {
  action: 'create' | 'update' | 'delete';
  target: string;
  details: string[];
  apply: (ctx: ApplyContext) => Promise<string[]>;
}

export interface Plan {
  changes: PlannedChange[];
  /** Things Keyway has that the file does not name, left alone without --prune. */
  unmanaged: string[];
  context: ApplyContext;
}

export interface PlanOptions {
  api: ApiClient;
  file: KeywayFile;
  secret: SecretResolver;
  prune: boolean;
}

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;
const show = (value: unknown) => (value === null || value === undefined ? 'none' : JSON.stringify(value));
const projectPath = (projectId: string) => `/api/v1/projects/${encodeURIComponent(projectId)}`;

function normalizedIssuer(value: string): string {
  try {
    return normalizeIssuerUrl(value, { authorityOrigins: [new URL(value.trim()).origin] }).issuer;
  } catch {
    return value.trim();
  }
}

export async function buildPlan(options: PlanOptions): Promise<Plan> {
  const { api, file, secret, prune } = options;
  const changes: PlannedChange[] = [];
  const deletions: PlannedChange[] = [];
  const unmanaged: string[] = [];
  const context: ApplyContext = { projectIds: new Map() };
  const runners = await readRunners(api);
  let me: string | undefined;

  /**
   * Something Keyway has that the file does not name: left alone and listed, or with --prune deleted
   * at `path`. `first`: deleted before the deletions planned so far (what uses them goes first).
   */
  function notInFile(target: string, details: string[], path: (ctx: ApplyContext) => string, first = false): void {
    if (!prune) {
      unmanaged.push(target);
      return;
    }
    const deletion: PlannedChange = { action: 'delete', target, details, apply: async (ctx) => (await api.delete(path(ctx)), []) };
    if (first) deletions.unshift(deletion);
    else deletions.push(deletion);
  }

  function runnerNamed(name: string, where: string): RunnerState {
    const runner = runners.find((r) => sameName(r.name, name));
    if (!runner)
      throw new ApplyFileError(
        `${where}: there is no runner named "${name}" (runners: ${runners.map((r) => r.name).join(', ') || 'none'}); create it under Runners and start it first`,
      );
    return runner;
  }
  function keyOf(runner: RunnerState, where: string): string {
    if (!runner.publicKey)
      throw new ApplyFileError(
        `${where}: runner "${runner.name}" has not registered yet (${runner.status}), so nothing can be sealed for it; start it with its exchange token first`,
      );
    return runner.publicKey;
  }
  async function same(runner: RunnerState, kind: SealedComparisonKind, id: string, sealed: string): Promise<boolean> {
    const answer = await api.post<{ results: { same: boolean }[] }>(`/api/v1/runners/${encodeURIComponent(runner.id)}/sealed-comparisons`, {
      items: [{ kind, id, sealed }],
    });
    return answer.results[0]?.same === true;
  }
  /** A secret that will be used, sealed for its record at the time it is written. */
  const sealedFor = async (runner: RunnerState, where: string, ref: Parameters<SecretResolver>[0], aad: string) =>
    seal(keyOf(runner, where), await secret(ref, where), aad);

  // ---- runners' integrations ----
  for (const spec of file.runners ?? []) {
    const where = `runners.${spec.name}`;
    const runner = runnerNamed(spec.name, where);
    if (spec.integrations === undefined) continue;
    const existing = await readIntegrations(api, runner.id);
    for (const wanted of spec.integrations) {
      const found = existing.find(
        (i) => integrationKey(i.host, i.virtualDirectory) === integrationKey(wanted.host, wanted.virtualDirectory),
      );
      const change = found
        ? await integrationUpdate(runner, found, wanted, `${where}.integrations.${wanted.host}`)
        : await integrationCreate(runner, wanted, `${where}.integrations.${wanted.host}`);
      if (change) changes.push(change);
    }
    for (const extra of existing.filter(
      (i) => !spec.integrations!.some((w) => integrationKey(w.host, w.virtualDirectory) === integrationKey(i.host, i.virtualDirectory)),
    )) {
      notInFile(
        `integration ${extra.host}${extra.virtualDirectory} on runner "${runner.name}"`,
        ['every credential it produced is deleted with it'],
        () => `/api/v1/runners/${encodeURIComponent(runner.id)}/scm-integrations/${encodeURIComponent(extra.id)}`,
      );
    }
  }

  /** The OAuth settings as the API takes them: a client secret sealed for the integration, or a credential without one. */
  async function oauthInput(runner: RunnerState, wanted: NonNullable<IntegrationSpec['oauth']>, id: string, where: string) {
    const credential = wanted.credential ?? 'client-secret';
    if (credential !== 'client-secret') {
      if (wanted.clientSecret)
        throw new ApplyFileError(`${where}.oauth.clientSecret: a ${credential} credential has no secret; remove clientSecret`);
      if (wanted.managedIdentityClientId && credential !== 'managed-identity')
        throw new ApplyFileError(`${where}.oauth.managedIdentityClientId: belongs to the managed-identity credential only`);
      return {
        clientId: wanted.clientId,
        issuerUrl: wanted.issuerUrl,
        credential,
        ...(wanted.managedIdentityClientId ? { managedIdentityClientId: wanted.managedIdentityClientId } : {}),
      };
    }
    if (!wanted.clientSecret)
      throw new ApplyFileError(
        `${where}.oauth.clientSecret: a client-secret credential needs clientSecret (env or file), or choose a credential without secret (oauth.credential)`,
      );
    return {
      clientId: wanted.clientId,
      issuerUrl: wanted.issuerUrl,
      credential,
      sealedClientSecret: await sealedFor(
        runner,
        `${where}.oauth.clientSecret`,
        wanted.clientSecret,
        sealingContext.integrationClientSecret(id),
      ),
    };
  }

  function describeOAuth(oauth: NonNullable<IntegrationSpec['oauth']>): string {
    return `client ${oauth.clientId}, ${oauth.credential && oauth.credential !== 'client-secret' ? `${oauth.credential} (no secret)` : `secret from ${oauth.clientSecret ? describeRef(oauth.clientSecret) : 'nowhere'}`}`;
  }

  async function integrationCreate(runner: RunnerState, wanted: IntegrationSpec, where: string): Promise<PlannedChange> {
    const id = newId('int');
    const oauth = wanted.oauth ? await oauthInput(runner, wanted.oauth, id, where) : null;
    return {
      action: 'create',
      target: `integration ${wanted.host}${wanted.virtualDirectory ?? ''} on runner "${runner.name}"`,
      details: [`oauth: ${wanted.oauth ? describeOAuth(wanted.oauth) : 'off'}`, `pat: ${wanted.pat ? 'on' : 'off'}`],
      apply: async () => {
        const saved = await api.post<{ test: TestResult }>(`/api/v1/runners/${encodeURIComponent(runner.id)}/scm-integrations`, {
          id,
          scmId: 'azure-devops',
          host: wanted.host,
          ...(wanted.virtualDirectory ? { virtualDirectory: wanted.virtualDirectory } : {}),
          oauth,
          pat: { enabled: wanted.pat === true },
        });
        return testNotes(saved.test);
      },
    };
  }

  async function integrationUpdate(
    runner: RunnerState,
    found: IntegrationState,
    wanted: IntegrationSpec,
    where: string,
  ): Promise<PlannedChange | undefined> {
    const details: string[] = [];
    const patch: Record<string, unknown> = {};
    if ((wanted.pat === true) !== found.pat.enabled) {
      details.push(`pat: ${found.pat.enabled ? "on → off (users' PATs for it are deleted)" : 'off → on'}`);
      patch.pat = { enabled: wanted.pat === true };
    }
    if (!wanted.oauth && found.oauth) {
      details.push("oauth: on → off (users' OAuth authorizations for it are deleted)");
      patch.oauth = null;
    } else if (wanted.oauth) {
      const input = await oauthInput(runner, wanted.oauth, found.id, where);
      const oauthDetails: string[] = [];
      if (!found.oauth) oauthDetails.push(`oauth: off → on (${describeOAuth(wanted.oauth)})`);
      else {
        if (found.oauth.clientId.toLowerCase() !== wanted.oauth.clientId.trim().toLowerCase())
          oauthDetails.push(`oauth.clientId: ${found.oauth.clientId} → ${wanted.oauth.clientId}`);
        if (normalizedIssuer(found.oauth.issuerUrl) !== normalizedIssuer(wanted.oauth.issuerUrl))
          oauthDetails.push(`oauth.issuerUrl: ${found.oauth.issuerUrl} → ${wanted.oauth.issuerUrl}`);
        const foundCredential = found.oauth.credential ?? 'client-secret';
        if (foundCredential !== input.credential) oauthDetails.push(`oauth.credential: ${foundCredential} → ${input.credential}`);
        if ((found.oauth.managedIdentityClientId ?? '') !== (wanted.oauth.managedIdentityClientId ?? '').trim().toLowerCase())
          oauthDetails.push(
            `oauth.managedIdentityClientId: ${show(found.oauth.managedIdentityClientId ?? null)} → ${show(wanted.oauth.managedIdentityClientId ?? null)}`,
          );
        if (
          'sealedClientSecret' in input &&
          input.sealedClientSecret &&
          (!found.oauth.clientSecretSet || !(await same(runner, 'integration-client-secret', found.id, input.sealedClientSecret)))
        ) {
          oauthDetails.push(
            `oauth.clientSecret: changed (from ${wanted.oauth.clientSecret ? describeRef(wanted.oauth.clientSecret) : 'nowhere'})`,
          );
        }
      }
      if (oauthDetails.length) {
        details.push(...oauthDetails);
        patch.oauth = input;
      }
    }
    if (!details.length) return undefined;
    return {
      action: 'update',
      target: `integration ${found.host}${found.virtualDirectory} on runner "${runner.name}"`,
      details,
      apply: async () => {
        const saved = await api.patch<{ test: TestResult }>(
          `/api/v1/runners/${encodeURIComponent(runner.id)}/scm-integrations/${encodeURIComponent(found.id)}`,
          patch,
        );
        return testNotes(saved.test);
      },
    };
  }

  // ---- projects ----
  const projects = file.projects?.length ? await readProjects(api) : [];
  for (const spec of file.projects ?? []) {
    const found = projects.find((p) => sameName(p.name, spec.name));
    if (found) context.projectIds.set(spec.name, found.id);
    else
      changes.push({
        action: 'create',
        target: `project "${spec.name}"`,
        details: [],
        apply: async (ctx) => {
          const created = await api.post<{ id: string }>('/api/v1/projects', { name: spec.name });
          ctx.projectIds.set(spec.name, created.id);
          return [];
        },
      });
    const contents: ProjectContents = found ? await readProjectContents(api, found.id) : { members: [], connections: [], syncs: [] };
    await planProject(spec, contents);
  }

  async function planProject(spec: ProjectSpec, contents: ProjectContents): Promise<void> {
    const label = `project "${spec.name}"`;
    const projectId = (ctx: ApplyContext) => {
      const id = ctx.projectIds.get(spec.name);
      if (!id) throw new Error(`${label} was not created`);
      return id;
    };

    if (spec.members !== undefined) {
      for (const member of spec.members) {
        const found = contents.members.find((m) => sameName(m.email, member.email));
        if (found?.role === member.role) continue;
        changes.push({
          action: found ? 'update' : 'create',
          target: `member ${member.email} of ${label}`,
          details: [found ? `role: ${found.role} → ${member.role}` : `role: ${member.role}`],
          apply: async (ctx) => {
            await api.post(`${projectPath(projectId(ctx))}/members`, { email: member.email, role: member.role });
            return [];
          },
        });
      }
      // The one applying is never pruned from a project: they would lock themselves out of what they manage.
      me ??= (await api.get<{ user: { id: string } }>('/api/v1/me')).user.id;
      for (const extra of contents.members.filter((m) => m.userId !== me && !spec.members!.some((w) => sameName(w.email, m.email)))) {
        notInFile(
          `member ${extra.email} of ${label}`,
          [],
          (ctx) => `${projectPath(projectId(ctx))}/members/${encodeURIComponent(extra.userId)}`,
        );
      }
    }

    const connectionIds = new Map<string, { id: string; runner: RunnerState }>();
    for (const wanted of spec.appConnections ?? []) {
      const where = `projects.${spec.name}.appConnections.${wanted.name}`;
      const runner = runnerNamed(wanted.runner, `${where}.runner`);
      const found = contents.connections.find((c) => sameName(c.name, wanted.name));
      if (found) {
        connectionIds.set(wanted.name.toLowerCase(), { id: found.id, runner });
        const change = await connectionUpdate(found, wanted, runner, where, label, projectId);
        if (change) changes.push(change);
      } else {
        const id = newId('conn');
        connectionIds.set(wanted.name.toLowerCase(), { id, runner });
        changes.push(await connectionCreate(id, wanted, runner, where, label, projectId));
      }
    }

    for (const wanted of spec.syncs ?? []) {
      const where = `projects.${spec.name}.syncs.${wanted.name}`;
      let connection = connectionIds.get(wanted.connection.toLowerCase());
      if (!connection) {
        const existing = contents.connections.find((c) => sameName(c.name, wanted.connection));
        const runner = existing && runners.find((r) => r.id === existing.runnerId);
        if (!existing || !runner)
          throw new ApplyFileError(
            `${where}.connection: ${label} has no app connection named "${wanted.connection}"; declare it under appConnections`,
          );
        connection = { id: existing.id, runner };
      }
      const found = contents.syncs.find((s) => sameName(s.name, wanted.name));
      const change = found
        ? await syncUpdate(found, wanted, connection, where, label, projectId)
        : await syncCreate(wanted, connection, where, label, projectId);
      if (change) changes.push(change);
    }

    // Deleted syncs before deleted connections: a connection in use cannot go.
    for (const extra of contents.syncs.filter((s) => !(spec.syncs ?? []).some((w) => sameName(w.name, s.name)))) {
      notInFile(
        `sync "${extra.name}" of ${label}`,
        ['the Azure DevOps variable group is left as it is'],
        (ctx) => `${projectPath(projectId(ctx))}/syncs/${encodeURIComponent(extra.id)}`,
        true,
      );
    }
    for (const extra of contents.connections.filter((c) => !(spec.appConnections ?? []).some((w) => sameName(w.name, c.name)))) {
      notInFile(
        `app connection "${extra.name}" of ${label}`,
        ['the runner forgets its credential'],
        (ctx) => `${projectPath(projectId(ctx))}/app-connections/${encodeURIComponent(extra.id)}`,
      );
    }
  }

  /** The credential of a connection as the API takes it, sealed for the connection's record. */
  async function connectionCredential(
    id: string,
    wanted: AppConnectionSpec,
    runner: RunnerState,
    where: string,
  ): Promise<{ field?: 'sealedAccessToken' | 'sealedClientSecret'; sealed?: string; from?: string }> {
    if (wanted.method === 'oauth') {
      if (wanted.accessToken || wanted.clientSecret)
        throw new ApplyFileError(
          `${where}: an oauth connection takes no accessToken or clientSecret (a project owner connects it in the browser)`,
        );
      return {};
    }
    if (wanted.method === 'certificate' || wanted.method === 'workload-identity' || wanted.method === 'managed-identity') {
      if (wanted.accessToken || wanted.clientSecret)
        throw new ApplyFileError(`${where}: a ${wanted.method} connection has no secret; remove accessToken and clientSecret`);
      return {};
    }
    const field = wanted.method === 'access-token' ? 'accessToken' : 'clientSecret';
    const ref = wanted[field];
    if (!ref) throw new ApplyFileError(`${where}.${field}: a ${wanted.method} connection needs ${field} (env or file)`);
    const other = wanted.method === 'access-token' ? 'clientSecret' : 'accessToken';
    if (wanted[other]) throw new ApplyFileError(`${where}.${other}: does not belong to a ${wanted.method} connection`);
    return {
      field: wanted.method === 'access-token' ? 'sealedAccessToken' : 'sealedClientSecret',
      sealed: await sealedFor(runner, `${where}.${field}`, ref, sealingContext.appConnectionSecret(id)),
      from: describeRef(ref),
    };
  }

  async function connectionCreate(
    id: string,
    wanted: AppConnectionSpec,
    runner: RunnerState,
    where: string,
    label: string,
    projectId: (ctx: ApplyContext) => string,
  ): Promise<PlannedChange> {
    const credential = await connectionCredential(id, wanted, runner, where);
    const settings = {
      ...(wanted.organization ? { organization: wanted.organization } : {}),
      ...(wanted.tenantId ? { tenantId: wanted.tenantId } : {}),
      ...(wanted.clientId ? { clientId: wanted.clientId } : {}),
    };
    return {
      action: 'create',
      target: `app connection "${wanted.name}" of ${label}`,
      details: [
        `${wanted.method} on runner "${runner.name}"`,
        ...Object.entries(settings).map(([k, v]) => `${k}: ${v}`),
        ...(credential.from ? [`credential from ${credential.from}`] : []),
      ],
      apply: async (ctx) => {
        const saved = await api.post<{ authorizeUrl?: string }>(`${projectPath(projectId(ctx))}/app-connections`, {
          id,
          name: wanted.name,
          runnerId: runner.id,
          method: wanted.method,
          ...settings,
          ...(credential.field ? { [credential.field]: credential.sealed } : {}),
        });
        return saved.authorizeUrl ? [`connect it in a signed-in browser: ${api.server}${saved.authorizeUrl}`] : [];
      },
    };
  }

  async function connectionUpdate(
    found: ConnectionState,
    wanted: AppConnectionSpec,
    runner: RunnerState,
    where: string,
    label: string,
    projectId: (ctx: ApplyContext) => string,
  ): Promise<PlannedChange | undefined> {
    if (found.method !== wanted.method)
      throw new ApplyFileError(
        `${where}.method: the connection is ${found.method}; a method cannot change: give the new one another name (and remove the old one with --prune)`,
      );
    if (found.runnerId !== runner.id)
      throw new ApplyFileError(
        `${where}.runner: the connection is held by another runner; a connection cannot move: give the new one another name`,
      );
    const details: string[] = [];
    const patch: Record<string, unknown> = {};
    for (const field of ['organization', 'tenantId', 'clientId'] as const) {
      const want = wanted[field];
      if (want !== undefined && (found[field] ?? '').toLowerCase() !== want.trim().toLowerCase()) {
        details.push(`${field}: ${show(found[field])} → ${JSON.stringify(want)}`);
        patch[field] = want;
      }
    }
    const credential = await connectionCredential(found.id, wanted, runner, where);
    if (credential.sealed && (!found.credentialSet || !(await same(runner, 'app-connection-secret', found.id, credential.sealed)))) {
      details.push(`credential: changed (from ${credential.from})`);
      patch[credential.field!] = credential.sealed;
    }
    if (!details.length) return undefined;
    return {
      action: 'update',
      target: `app connection "${found.name}" of ${label}`,
      details,
      apply: async (ctx) => {
        await api.patch(`${projectPath(projectId(ctx))}/app-connections/${encodeURIComponent(found.id)}`, patch);
        return [];
      },
    };
  }

  async function syncValues(
    wanted: SyncSpec,
    where: string,
  ): Promise<{ declared: { name: string; isSecret: boolean }[]; values: Record<string, string>; sources: string[] }> {
    const values: Record<string, string> = {};
    const sources: string[] = [];
    for (const v of wanted.variables) {
      if (isSecretRef(v.value)) {
        values[v.name] = await secret(v.value, `${where}.variables.${v.name}`);
        sources.push(`${v.name} from ${describeRef(v.value)}`);
      } else values[v.name] = v.value;
    }
    return { declared: wanted.variables.map((v) => ({ name: v.name, isSecret: v.secret === true })), values, sources };
  }

  function syncSettings(wanted: SyncSpec) {
    return {
      project: wanted.project,
      groupName: wanted.groupName,
      description: wanted.description ?? null,
      scheduleMinutes: wanted.scheduleMinutes ?? null,
      enabled: wanted.enabled !== false,
      ...(wanted.organization ? { organization: wanted.organization } : {}),
    };
  }

  async function syncCreate(
    wanted: SyncSpec,
    connection: { id: string; runner: RunnerState },
    where: string,
    label: string,
    projectId: (ctx: ApplyContext) => string,
  ): Promise<PlannedChange> {
    const { declared, values, sources } = await syncValues(wanted, where);
    const publicKey = keyOf(connection.runner, where);
    return {
      action: 'create',
      target: `sync "${wanted.name}" of ${label}`,
      details: [
        `group ${wanted.groupName} in ${wanted.organization ?? "the connection's organization"}/${wanted.project}`,
        `variables: ${declared.map((d) => d.name + (d.isSecret ? ' (secret)' : '')).join(', ') || 'none'}`,
        ...(sources.length ? [`values ${sources.join(', ')}`] : []),
      ],
      apply: async (ctx) => {
        const base = `${projectPath(projectId(ctx))}/syncs`;
        // Absent rather than null: the server's coercion turns a null integer into 0.
        const settings = Object.fromEntries(Object.entries(syncSettings(wanted)).filter(([, v]) => v !== null));
        const created = await api.post<{ sync: { id: string } }>(base, { name: wanted.name, connectionId: connection.id, ...settings });
        // The sync's id is known only now, and its values are sealed for it.
        const sealedValues = await seal(publicKey, JSON.stringify(values), sealingContext.syncVariables(created.sync.id));
        await api.put(`${base}/${encodeURIComponent(created.sync.id)}/variables`, { variables: declared, sealedValues });
        return [];
      },
    };
  }

  async function syncUpdate(
    found: SyncState,
    wanted: SyncSpec,
    connection: { id: string; runner: RunnerState },
    where: string,
    label: string,
    projectId: (ctx: ApplyContext) => string,
  ): Promise<PlannedChange | undefined> {
    const details: string[] = [];
    const patch: Record<string, unknown> = {};
    if (found.connectionId !== connection.id) {
      details.push(`connection: → "${wanted.connection}"`);
      patch.connectionId = connection.id;
    }
    const settings = syncSettings(wanted);
    const current: Record<string, unknown> = {
      project: found.project,
      groupName: found.groupName,
      description: found.description,
      scheduleMinutes: found.scheduleMinutes,
      enabled: found.enabled,
      organization: found.organization,
    };
    for (const [key, value] of Object.entries(settings)) {
      if (current[key] !== value) {
        details.push(`${key}: ${show(current[key])} → ${show(value)}`);
        patch[key] = value;
      }
    }
    const { declared, values, sources } = await syncValues(wanted, where);
    const sealed = await seal(keyOf(connection.runner, where), JSON.stringify(values), sealingContext.syncVariables(found.id));
    const flags = (list: { name: string; isSecret: boolean }[]) => JSON.stringify([...list].sort((a, b) => a.name.localeCompare(b.name)));
    let variablesChange: string | undefined;
    if (flags(found.variables) !== flags(declared)) {
      const before = new Set(found.variables.map((v) => v.name));
      const after = new Set(declared.map((v) => v.name));
      const added = [...after].filter((n) => !before.has(n));
      const removed = [...before].filter((n) => !after.has(n));
      variablesChange = [
        added.length ? `added ${added.join(', ')}` : '',
        removed.length ? `removed ${removed.join(', ')}` : '',
        !added.length && !removed.length ? 'secret flags changed' : '',
      ]
        .filter(Boolean)
        .join('; ');
    } else if (patch.connectionId !== undefined || !(await same(connection.runner, 'sync-variables', found.id, sealed))) {
      variablesChange = `values changed${sources.length ? ` (secret values from ${sources.map((s) => s.replace(/^.* from /, '')).join(', ')})` : ''}`;
    }
    if (variablesChange) details.push(`variables: ${variablesChange}`);
    if (!details.length) return undefined;
    return {
      action: 'update',
      target: `sync "${found.name}" of ${label}`,
      details,
      apply: async (ctx) => {
        const base = `${projectPath(projectId(ctx))}/syncs/${encodeURIComponent(found.id)}`;
        if (Object.keys(patch).length) await api.patch(base, patch);
        if (variablesChange) await api.put(`${base}/variables`, { variables: declared, sealedValues: sealed });
        return [];
      },
    };
  }

  return { changes: [...changes, ...deletions], unmanaged, context };
}

interface TestResult {
  valid: boolean;
  hostError?: string;
  oauthError?: string;
  patError?: string;
  scmIdError?: string;
  runnerError?: string;
  redirectUriError?: string;
  credentialNote?: string;
}

function testNotes(test: TestResult): string[] {
  const note = test.credentialNote ? [test.credentialNote] : [];
  if (test.valid) return ['Save & Test: valid', ...note];
  const problems = [test.hostError, test.oauthError, test.redirectUriError, test.patError, test.scmIdError, test.runnerError].filter(
    Boolean,
  );
  return [
    `Save & Test failed (saved anyway): ${problems.length ? problems.join('; ') : 'no reason given; run the test again under Runners'}`,
    ...note,
  ];
}

/** The plan as people read it. */
export function formatPlan(plan: Plan): string {
  const count = (action: PlannedChange['action']) => plan.changes.filter((c) => c.action === action).length;
  const lines: string[] = [];
  if (!plan.changes.length) lines.push('No changes: Keyway already matches the file.');
  else {
    lines.push(`Plan: ${count('create')} to create, ${count('update')} to change, ${count('delete')} to delete.`);
    const mark = { create: '+', update: '~', delete: '-' } as const;
    for (const change of plan.changes) {
      lines.push(`  ${mark[change.action]} ${change.action} ${change.target}`);
      for (const detail of change.details) lines.push(`      ${detail}`);
    }
  }
  if (plan.unmanaged.length) {
    lines.push(`Not in the file, left alone (--prune deletes them):`);
    for (const u of plan.unmanaged) lines.push(`  ? ${u}`);
  }
  return `${lines.join('\n')}\n`;
}
