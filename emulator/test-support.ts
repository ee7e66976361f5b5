// Helpers for tests that run against the emulator (its own suite and Keyway's).
import { spawn } from 'node:child_process';
import { devNull } from 'node:os';
import { startEmulator, type EmulatorHandle, type StartEmulatorOptions } from './server.ts';
import type { User } from './ado/world.ts';
import type { EntraApp } from './entra/index.ts';
import { started } from './testkit-hooks.ts';

export function basic(secret: string, user = 'keyway'): string {
  return `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
}

export interface CallOptions {
  method?: string;
  auth?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test responses are inspected field by field
  json: any;
}

/** fetch against an absolute URL; parses JSON bodies when the response says so. */
export async function call(url: string, opts: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.auth) headers.authorization = opts.auth;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: opts.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: unknown = undefined;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) json = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, json };
}

export interface SeededWorld {
  emu: EmulatorHandle;
  org: string;
  project: string;
  repo: string;
  user: User;
  /** vso.code_write vso.project vso.variablegroups_manage vso.profile for the org. */
  pat: string;
  patId: string;
  /** vso.code only. */
  readPat: string;
  /** An app registration in the default tenant (for bearer tokens). */
  clientId: string;
  /** That registration itself: tests register Keyway's callbacks on it, as an admin would in the portal. */
  app: EntraApp;
  clientSecret: string;
  orgUrl: string;
  close(): Promise<void>;
}

/** An emulator with one organization, project, repository (5 commits, a feature branch, a tag) and user. */
export async function startSeeded(
  opts: StartEmulatorOptions & { org?: string; project?: string; repo?: string } = {},
): Promise<SeededWorld> {
  const emu = await startEmulator(opts);
  const org = opts.org ?? 'contoso';
  const project = opts.project ?? 'Web';
  const repo = opts.repo ?? 'web-app';
  const w = emu.world;
  w.addOrganization(org);
  w.addProject(org, project, { description: 'Web project' });
  const user = w.addUser({ upn: `alice@${emu.defaultTenant.domain}`, displayName: 'Alice Example' });
  w.addMember(org, user.id);
  await w.createRepository(org, project, repo, { commits: 5, branches: ['feature/login'], tags: ['v1.0'], createdBy: user.id });
  const full = w.createPat(user.id, { scopes: ['vso.code_write', 'vso.project', 'vso.variablegroups_manage', 'vso.profile'], orgs: [org] });
  const read = w.createPat(user.id, { scopes: ['vso.code'], orgs: [org] });
  const { app, clientSecret } = emu.entra.addApp(emu.defaultTenant.id, {
    displayName: 'Keyway test',
    redirectUris: ['http://localhost/cb'],
  });
  return {
    emu,
    org,
    project,
    repo,
    user,
    pat: full.token,
    patId: full.authorizationId,
    readPat: read.token,
    clientId: app.clientId,
    app,
    clientSecret,
    orgUrl: emu.orgUrl(org),
    close: () => emu.close(),
  };
}

/**
 * For a test file or suite: startSeeded() in `before`, then `setUp` (which may already use the handle),
 * closed in `after`; the handle reads through to the world.
 */
export function useSeeded(setUp?: () => unknown, opts: Parameters<typeof startSeeded>[0] = {}): SeededWorld {
  return started(
    () => startSeeded(opts),
    (s) => s.close(),
    setUp,
  );
}

/** An Entra user access token for the Azure DevOps resource. */
export async function userToken(
  s: SeededWorld,
  user: User = s.user,
  scopes = ['499b84ac-1321-427f-aa17-267ca6975798/user_impersonation'],
): Promise<string> {
  return s.emu.entra.issueAccessTokenForTest({ tenantId: user.tenantId, userOid: user.oid, clientId: s.clientId, scopes });
}

/**
 * Runs git with no user configuration (HOME is `home`, else `cwd`). A `secret` travels in the
 * environment, never in argv: through a credential helper as the password, or with `extraHeader`
 * as a bearer token header.
 */
export function runGit(
  args: string[],
  opts: { cwd: string; home?: string; secret?: string; extraHeader?: boolean },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const helper =
    opts.secret !== undefined && !opts.extraHeader
      ? ['-c', 'credential.helper=', '-c', 'credential.helper=!f() { echo username=keyway; echo "password=$KW_SECRET"; }; f']
      : ['-c', 'credential.helper='];
  const header = opts.secret !== undefined && opts.extraHeader ? ['-c', `http.extraHeader=Authorization: Bearer ${opts.secret}`] : [];
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...helper, ...header, ...args], {
      cwd: opts.cwd,
      env: {
        PATH: process.env.PATH,
        HOME: opts.home ?? opts.cwd,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: devNull,
        GIT_TERMINAL_PROMPT: '0',
        GIT_AUTHOR_NAME: 'Test',
        GIT_AUTHOR_EMAIL: 'test@example.invalid',
        GIT_COMMITTER_NAME: 'Test',
        GIT_COMMITTER_EMAIL: 'test@example.invalid',
        KW_SECRET: opts.secret ?? '',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
