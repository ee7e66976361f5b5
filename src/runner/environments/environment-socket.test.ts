// An environment's own socket, asked by git's real credential-cache client as git runs it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../logging/logger.ts';
import { HandlerError } from '../agent.ts';
import { environmentSocketPath, startEnvironmentSocket } from './environment-socket.ts';
import type { EnvironmentSocket } from './environment-socket.ts';
import { cacheHelperCommand } from './workspace.ts';

const TOKEN = `tok-${'a'.repeat(40)}`;
const REQUEST = 'protocol=https\nhost=dev.azure.com\npath=contoso/Web/_git/web\n';

describe("an environment's own credential socket (git credential-cache protocol)", () => {
  let dir: string;
  let socket: EnvironmentSocket;
  let refuse = false;
  let asked = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kw-envsock-'));
    socket = await startEnvironmentSocket({
      path: environmentSocketPath(join(dir, 'credentials.sock'), 'env_socktest01'),
      grant: {
        environmentId: 'env_socktest01',
        userId: 'u1',
        integrationId: 'int_1',
        remoteUrl: 'https://dev.azure.com/contoso/Web/_git/web',
      },
      getAccessToken: async () => {
        asked++;
        if (refuse) throw new HandlerError('reauthorization_required', 'connect again');
        return { kind: 'bearer', token: TOKEN, expiresAt: '2030-01-01T00:00:00.000Z', credentialId: 'c1' };
      },
      logger: createLogger('silent'),
    });
  });
  after(async () => {
    await socket?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** As git runs the configured `!` helper: `sh -c '<command> "$@"' <command> <action>`, the request on stdin. */
  // Asynchronous on purpose: the socket answers from this very process.
  const helper = (action: string, input = REQUEST) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const command = cacheHelperCommand(socket.path);
      const child = spawn('/bin/sh', ['-c', `${command.slice(1)} "$@"`, command, action], { timeout: 10_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
      // For store and erase the helper exits without reading: git ignores the broken pipe, so do we.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    });

  it("answers git's get with the user's current token, owner-only", async () => {
    assert.equal(statSync(socket.path).mode & 0o777, 0o600);
    const out = await helper('get');
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, `username=oauth2\npassword=${TOKEN}\npassword_expiry_utc=${Date.parse('2030-01-01T00:00:00.000Z') / 1000}\n`);
  });

  it('answers nothing for another repository or when there is no token, so git asks the next helper', async () => {
    assert.equal((await helper('get', 'protocol=https\nhost=dev.azure.com\npath=contoso/Other/_git/secret\n')).stdout, '');
    refuse = true;
    try {
      const before = asked;
      assert.equal((await helper('get')).stdout, '');
      assert.equal(asked, before + 1);
    } finally {
      refuse = false;
    }
  });

  it("store and erase never reach the socket (nothing is kept), and the socket stays the runner's", async () => {
    const before = asked;
    for (const action of ['store', 'erase']) {
      const out = await helper(action, `${REQUEST}username=oauth2\npassword=${TOKEN}\n`);
      assert.equal(out.status, 0, out.stderr);
      assert.equal(out.stdout, '');
    }
    assert.equal(asked, before);
    assert.equal((await helper('get')).stdout.includes(TOKEN), true, 'still answered by this socket');
  });

  it('once closed, the socket is gone and git gets nothing from it', async () => {
    const path = socket.path;
    await socket.close();
    assert.throws(() => statSync(path));
    const out = await helper('get');
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, '');
  });
});
