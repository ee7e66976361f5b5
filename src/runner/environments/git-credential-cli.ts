// `keyway git-credential get|store|erase`: the same protocol as the workspace helper script, in Node,
// for setups without curl or outside a Keyway workspace:
//   git config credential.helper "!keyway git-credential --secret-file /path/to/.keyway/secret"
//   git config credential.useHttpPath true
// Starting Node costs tens of milliseconds per git request, which is why workspaces get the script.

import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { CREDENTIAL_PATH, credentialSocketPath } from './credential-server.ts';

export interface GitCredentialOptions {
  socket?: string;
  secretFile?: string;
  dataDir?: string;
}

export interface GitCredentialIo {
  stdin: NodeJS.ReadableStream;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The secret from a workspace's secret file (`Authorization: Bearer …`) or a file holding it alone. */
export function secretFromFile(text: string): string | undefined {
  const value = text.trim().replace(/^Authorization:\s*Bearer\s+/i, '');
  return /^[A-Za-z0-9_-]{20,200}$/.test(value) ? value : undefined;
}

function post(socketPath: string, secret: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolvePost, reject) => {
    const req = request(
      {
        socketPath,
        path: CREDENTIAL_PATH,
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) },
        timeout: 90_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePost({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Returns the exit code. Failures print one `keyway: …` line and tell git to stop (`quit=1`). */
export async function runGitCredential(action: string, options: GitCredentialOptions, io: GitCredentialIo): Promise<number> {
  const input = await readAll(io.stdin);
  // store and erase: the runner holds the credential; there is nothing to remember or forget here.
  if (action !== 'get') return 0;
  const fail = (message: string): number => {
    io.stderr.write(`keyway: ${message}\n`);
    io.stdout.write('quit=1\n');
    return 0;
  };
  const secretFile = options.secretFile ?? io.env.KEYWAY_CREDENTIAL_SECRET_FILE;
  if (!secretFile)
    return fail("say which environment this is: --secret-file PATH (the workspace's .keyway/secret) or KEYWAY_CREDENTIAL_SECRET_FILE");
  let secret: string | undefined;
  try {
    secret = secretFromFile(await readFile(secretFile, 'utf8'));
  } catch (err) {
    return fail(`cannot read the secret file ${secretFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!secret) return fail(`${secretFile} does not hold a Keyway environment secret`);
  const socketPath =
    options.socket ??
    io.env.KEYWAY_CREDENTIAL_SOCKET ??
    credentialSocketPath(resolve(options.dataDir ?? io.env.KEYWAY_DATA_DIR ?? './.keyway-data'));
  let answer: { status: number; text: string };
  try {
    answer = await post(socketPath, secret, input);
  } catch (err) {
    return fail(
      `cannot reach the Keyway runner on ${socketPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); is the runner running?`,
    );
  }
  if (answer.status !== 200) return fail(answer.text.trim() || `the runner answered ${answer.status}`);
  io.stdout.write(answer.text);
  return 0;
}
