// An environment's own credential socket, speaking git's credential-cache protocol, so that git
// can ask with its built-in `git credential-cache --socket <path> get` (no shell script, no curl:
// about 2 ms instead of 10 on git's path, bench/02). The socket's path is the capability, like the
// workspace's secret file: both are in directories only the runner's user can enter.
//
// Protocol (git's builtin/credential-cache.c): the client connects, writes `action=<get|store|erase
// |exit>\ntimeout=<s>\n` and the credential lines git gave it, shuts its side down, and copies
// whatever the daemon writes to git until end of file. Only `get` is answered; nothing is ever
// stored. A refusal answers nothing, and git asks the next helper — the curl script, which says why.
// `erase` (git's report that the token it used was refused) triggers one early refresh.
import { createHash } from 'node:crypto';
import { chmod, chown, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from '../../logging/logger.ts';
import type { AccessToken } from '../oauth/tokens.ts';
import { answerCredential, answerRejection, parseCredentialRequest } from './credential-server.ts';
import type { CredentialGrant } from './credential-server.ts';

const MAX_REQUEST_BYTES = 16 * 1024;

/** Beside the runner's main socket (a 0700 directory whose path is short enough for sockets). */
export function environmentSocketPath(mainSocketPath: string, environmentId: string): string {
  const digest = createHash('sha256').update(environmentId).digest('hex').slice(0, 8);
  return join(dirname(mainSocketPath), `env-${digest}.sock`);
}

export interface EnvironmentSocket {
  path: string;
  close(): Promise<void>;
}

export async function startEnvironmentSocket(options: {
  path: string;
  grant: CredentialGrant;
  getAccessToken(userId: string, integrationId: string): Promise<AccessToken>;
  /** git reported the token refused (`erase`): refresh it once. */
  tokenRejected?: (token: AccessToken) => Promise<unknown>;
  logger: Logger;
  onServed?(environmentId: string): void;
  /** Isolated workspaces: the environment's own user, who alone may connect. */
  owner?: { uid: number; gid: number } | undefined;
}): Promise<EnvironmentSocket> {
  const { path, grant, logger } = options;

  async function serve(socket: Socket, request: string): Promise<void> {
    const asked = parseCredentialRequest(request);
    if (asked.action === 'erase') return answerRejection(grant, asked, options);
    if (asked.action !== 'get') return;
    const answer = await answerCredential(grant, asked, options);
    if (answer.status === 200 && !socket.destroyed) socket.write(answer.body);
  }

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    let size = 0;
    socket.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REQUEST_BYTES) socket.destroy();
      else chunks.push(c);
    });
    socket.on('error', () => undefined);
    socket.on('end', () => {
      serve(socket, Buffer.concat(chunks).toString('utf8'))
        .catch((err: unknown) =>
          logger.warn(
            { err: { message: (err as Error).message }, environmentId: grant.environmentId },
            'environment credential socket failed to answer',
          ),
        )
        .finally(() => socket.end());
    });
  });
  // A socket file left by a runner that stopped (or by a cache daemon git started in its place) goes.
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
  if (options.owner) await chown(path, options.owner.uid, options.owner.gid);
  return {
    path,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await unlink(path).catch(() => undefined);
    },
  };
}
