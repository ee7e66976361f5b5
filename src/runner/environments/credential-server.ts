// The runner's local credential endpoint: an HTTP server on a Unix domain socket (0600, in a 0700
// directory) that workspace credential helpers ask for the user's current token.
//
// Protocol (one request per git credential `get`):
//   POST /v1/git-credential
//   Authorization: Bearer <environment secret>
//   body: git's credential request, `key=value` lines (protocol, host, path; gitcredentials(7))
// 200 text/plain: `username=…\npassword=<token>\npassword_expiry_utc=<epoch s>\n` (git's format).
// Failures: 4xx/5xx text/plain, one line saying what is wrong and what to do; the helper prints it.
//   GET /v1/healthz → 200 "ok" (for latency baselines and probes).
//
// It is on git's path for every authenticated request, so it does no write of its own: the
// environment behind a secret digest is cached in memory, and the token comes from the token
// service (which refreshes on demand, one refresh per expiry however many ask).

import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from '../../logging/logger.ts';
import { gitCredentialTarget, sameCredentialTarget } from '../../azure-devops/git-remote.ts';
import type { GitCredentialTarget } from '../../azure-devops/git-remote.ts';
import { HandlerError } from '../agent.ts';
import type { AccessToken } from '../oauth/tokens.ts';
import { SpanKind } from '@opentelemetry/api';
import { inSpan } from '../../telemetry/spans.ts';
import { runnerMetrics } from '../../telemetry/runner-metrics.ts';

export const CREDENTIAL_PATH = '/v1/git-credential';
export const HEALTH_PATH = '/v1/healthz';
const MAX_BODY_BYTES = 16 * 1024;
// sun_path is 108 bytes on Linux and 104 on macOS, terminator included.
const MAX_SOCKET_PATH_BYTES = 100;

export const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

/** What the endpoint needs to know about the environment a secret belongs to. */
export interface CredentialGrant {
  environmentId: string;
  userId: string;
  integrationId: string;
  remoteUrl: string;
}

export interface CredentialServerDeps {
  socketPath: string;
  /** The environment a secret digest belongs to, if it is live (cached by the caller). */
  grantFor(secretHash: string): Promise<CredentialGrant | undefined>;
  getAccessToken(userId: string, integrationId: string): Promise<AccessToken>;
  logger: Logger;
  /** Called after a credential was served (the environment is in use). */
  onServed?(environmentId: string): void;
  /**
   * Isolated workspaces: environments run git as users of their own, who must reach this socket.
   * The directory becomes 0711 (enter, not list) and the socket 0666; the environment's secret
   * still decides what anyone gets.
   */
  shared?: boolean;
}

/**
 * `{dataDir}/run/credentials.sock`, or, when that path is too long for a Unix socket, a 0700
 * directory of this user under the temp directory named after the data directory.
 */
export function credentialSocketPath(dataDir: string): string {
  // Absolute: the path is written into helper scripts that run from the workspace.
  const preferred = join(resolve(dataDir), 'run', 'credentials.sock');
  if (Buffer.byteLength(preferred) <= MAX_SOCKET_PATH_BYTES) return preferred;
  const digest = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16);
  return join(tmpdir(), `keyway-${process.getuid?.() ?? 'u'}-${digest}`, 'credentials.sock');
}

async function prepareDirectory(dir: string, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw new Error(`${dir} is not a directory owned by this user; remove it so the runner can create its credential socket there`);
  }
  await chmod(dir, mode);
}

/** True when something answers on the socket: another runner process is using this data directory. */
function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest({ socketPath, path: HEALTH_PATH, method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** Parses git's credential format: `key=value` lines up to a blank line. Repeated keys keep the first. */
export function parseCredentialRequest(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const clean = line.replace(/\r$/, '');
    if (clean === '') break;
    const i = clean.indexOf('=');
    if (i <= 0) continue;
    const key = clean.slice(0, i);
    if (!(key in fields)) fields[key] = clean.slice(i + 1);
  }
  return fields;
}

function describeTarget(t: { protocol?: string; host?: string; path?: string }): string {
  return `${t.protocol ?? '?'}://${t.host ?? '?'}/${t.path ?? ''}`.slice(0, 300);
}

const targets = new Map<string, GitCredentialTarget>();
function targetOf(remoteUrl: string): GitCredentialTarget {
  let t = targets.get(remoteUrl);
  if (!t) {
    if (targets.size > 10_000) targets.clear();
    t = gitCredentialTarget(remoteUrl);
    targets.set(remoteUrl, t);
  }
  return t;
}

/**
 * The answer to one git credential `get` of an environment: git's credential format with the
 * user's current token, or a status and one line saying what is wrong. Shared by the HTTP socket
 * (curl helper) and the environments' own sockets (git's credential-cache protocol).
 */
export function answerCredential(
  grant: CredentialGrant,
  asked: Record<string, string>,
  deps: Pick<CredentialServerDeps, 'getAccessToken' | 'logger' | 'onServed'>,
): Promise<{ status: number; body: string }> {
  // The span every credential request starts (a trace of its own, or the HTTP socket's child).
  return inSpan(
    'git credential get',
    { 'keyway.environment.id': grant.environmentId },
    async (span) => {
      const answer = await answerUntraced(grant, asked, deps);
      span.setAttribute('keyway.credential.status', answer.status);
      runnerMetrics.credentialRequests.inc({ status: String(answer.status) });
      return answer;
    },
    SpanKind.SERVER,
  );
}

async function answerUntraced(
  grant: CredentialGrant,
  asked: Record<string, string>,
  deps: Pick<CredentialServerDeps, 'getAccessToken' | 'logger' | 'onServed'>,
): Promise<{ status: number; body: string }> {
  if (!asked.path) {
    return {
      status: 400,
      body: 'git did not send the repository path: set credential.useHttpPath=true for this repository (Keyway sets it in its workspaces)\n',
    };
  }
  const expected = targetOf(grant.remoteUrl);
  if (!sameCredentialTarget(asked, expected)) {
    deps.logger.warn(
      { environmentId: grant.environmentId, asked: describeTarget(asked) },
      'credential helper asked for another repository; refused',
    );
    return {
      status: 403,
      body: `this environment's credential helper serves only ${describeTarget(expected)}; git asked for ${describeTarget(asked)}\n`,
    };
  }
  let token: AccessToken;
  try {
    token = await deps.getAccessToken(grant.userId, grant.integrationId);
  } catch (err) {
    if (err instanceof HandlerError) {
      deps.logger.warn({ environmentId: grant.environmentId, code: err.code }, 'no token for a credential helper');
      return { status: err.code === 'refresh_unavailable' ? 503 : 403, body: `${err.message}\n` };
    }
    throw err;
  }
  // Any non-empty user name works with a PAT or an Entra token as the password
  // (docs/azure-devops.md, "Git over HTTPS").
  const lines = [`username=${token.kind === 'pat' ? 'pat' : 'oauth2'}`, `password=${token.token}`];
  const expiry = token.expiresAt ? Math.floor(Date.parse(token.expiresAt) / 1000) : NaN;
  // git 2.41+ stops using a credential past this time; older versions ignore the key.
  if (Number.isFinite(expiry)) lines.push(`password_expiry_utc=${expiry}`);
  deps.logger.debug({ environmentId: grant.environmentId, kind: token.kind }, 'credential served');
  deps.onServed?.(grant.environmentId);
  return { status: 200, body: `${lines.join('\n')}\n` };
}

/**
 * git reported that the token it was given was refused (its `erase`, sent after a 401). When that
 * is the user's current token, the token service refreshes it once (across replicas), so the next
 * git command gets a working one. Anything else (another repository, a token already replaced, a
 * password that is not the current token) changes nothing.
 */
export async function answerRejection(
  grant: CredentialGrant,
  asked: Record<string, string>,
  deps: Pick<CredentialServerDeps, 'getAccessToken' | 'logger'> & { tokenRejected?: (token: AccessToken) => Promise<unknown> },
): Promise<void> {
  if (!deps.tokenRejected || !asked.password || !asked.path || !sameCredentialTarget(asked, targetOf(grant.remoteUrl))) return;
  let current: AccessToken;
  try {
    current = await deps.getAccessToken(grant.userId, grant.integrationId);
  } catch {
    return;
  }
  if (current.token !== asked.password) return;
  try {
    await deps.tokenRejected(current);
    deps.logger.info({ environmentId: grant.environmentId, kind: current.kind }, 'git reported the token refused; handled');
  } catch (err) {
    deps.logger.warn(
      { environmentId: grant.environmentId, code: (err as { code?: string }).code },
      'git reported the token refused; it could not be refreshed',
    );
  }
}

export async function startCredentialServer(deps: CredentialServerDeps): Promise<{ socketPath: string; close(): Promise<void> }> {
  const { socketPath, logger } = deps;
  const dir = join(socketPath, '..');
  await prepareDirectory(dir, deps.shared ? 0o711 : 0o700);
  if (await socketAnswers(socketPath)) {
    throw new Error(`another runner process is serving ${socketPath}; each runner process needs its own data directory`);
  }
  await unlink(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  function send(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  function readBody(req: IncomingMessage): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          resolve(undefined);
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  async function credential(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer\s+([A-Za-z0-9_-]{20,200})\s*$/.exec(auth);
    if (!m)
      return send(res, 401, 'the request carries no environment secret; use the credential helper Keyway installed in the workspace\n');
    const grant = await deps.grantFor(hashSecret(m[1]!));
    if (!grant)
      return send(res, 401, "this credential helper's environment no longer exists (it was deleted or failed); create a new environment\n");
    const body = await readBody(req);
    if (body === undefined) return send(res, 413, 'the credential request is too large\n');
    const answer = await answerCredential(grant, parseCredentialRequest(body), deps);
    send(res, answer.status, answer.body);
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === HEALTH_PATH) return send(res, 200, 'ok\n');
    if (req.method !== 'POST' || path !== CREDENTIAL_PATH) return send(res, 404, `unknown request; POST ${CREDENTIAL_PATH}\n`);
    credential(req, res).catch((err: unknown) => {
      logger.error({ err }, 'credential request failed');
      if (!res.headersSent) send(res, 500, "the runner could not answer the credential request; see the runner's log\n");
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, deps.shared ? 0o666 : 0o600);
  logger.debug({ socketPath }, 'credential socket listening');

  return {
    socketPath,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await unlink(socketPath).catch(() => undefined);
    },
  };
}
