import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const KEYWAY_BIN = fileURLToPath(new URL('../../bin/keyway.mjs', import.meta.url));

/** Runs the CLI to completion (from source, so tests never pick up a stale build). */
export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const result = spawnSync(process.execPath, [KEYWAY_BIN, ...args], {
    env: { ...process.env, KEYWAY_FROM_SOURCE: '1', ...env },
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs any command to completion without blocking the event loop (servers in this process keep answering); `env` is the whole environment. */
export function runProcess(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Redeems a one-time sign-in link's token over HTTP: the raw answer. */
export function redeemSignInLink(url: string, token: string): Promise<Response> {
  return fetch(`${url}/api/v1/auth/link`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
}

/** Signs in over HTTP with a one-time sign-in link's token: the session cookie and its CSRF token. */
export async function signInWithLink(url: string, token: string): Promise<{ cookie: string; csrfToken: string }> {
  const res = await redeemSignInLink(url, token);
  assert.equal(res.status, 200, await res.clone().text());
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return { cookie, csrfToken };
}

/** `keyway start --port 0` (warn logging) in a new temporary directory named after `prefix`. */
export function startInTempDir(prefix: string): { cwd: string; run: RunningCli } {
  const cwd = mkdtempSync(join(tmpdir(), prefix));
  return { cwd, run: startCli(['start', '--port', '0'], { KEYWAY_LOG_LEVEL: 'warn' }, cwd) };
}

/** The address `keyway start` serves at and the one-time sign-in link token it printed after it. */
export async function addressAndLink(run: RunningCli): Promise<{ url: string | undefined; token: string | undefined }> {
  const [, url] = await run.waitFor(/is running at (http:\/\/\S+)/);
  const [, token] = await run.waitFor(/\/sign-in\/link#token=(kwl_\S+)/);
  return { url, token };
}

/**
 * Signs in as the admin through the one-time link `keyway start` printed (after the address it serves
 * at); returns the session with fetches that carry it.
 */
export async function signInAsAdmin(run: RunningCli) {
  const { url, token: link } = await addressAndLink(run);
  const { cookie, csrfToken } = await signInWithLink(url!, link!);
  return {
    url: url!,
    cookie,
    csrfToken,
    get: (path: string) => fetch(`${url}${path}`, { headers: { cookie } }),
    post: (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
  };
}

/** The id of the runner `keyway start` runs in its own process, as the signed-in admin lists it. */
export async function localRunnerId(session: { get(path: string): Promise<Response> }): Promise<string> {
  const { runners } = (await (await session.get('/api/v1/runners')).json()) as { runners: { id: string; local: boolean }[] };
  return runners.find((r) => r.local)!.id;
}

export interface RunningCli {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first match of `pattern` in stdout+stderr, or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(): Promise<number | null>;
}

export function startCli(args: string[], env: Record<string, string> = {}, cwd?: string): RunningCli {
  return startProcess(process.execPath, [KEYWAY_BIN, ...args], { ...process.env, KEYWAY_FROM_SOURCE: '1', ...env }, cwd);
}

/** Any command (an installed `keyway`), watched like startCli's: `env` is the whole environment. */
export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): RunningCli {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = text.match(pattern);
          if (m) {
            cleanup();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${text}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`process exited before ${pattern}; output:\n${text}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
