import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCollecting } from '../../../test/support/process.ts';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitCredentialTarget, gitRemoteUrl, sameCredentialTarget } from '../../azure-devops/git-remote.ts';
import { resolveEndpoints } from '../../azure-devops/endpoints.ts';
import { parseCredentialRequest } from './credential-server.ts';
import {
  cacheHelperCommand,
  createWorkspace,
  helperCommand,
  helperScript,
  repositoryDirName,
  shellQuote,
  workspaceLayout,
} from './workspace.ts';

const sh = (command: string, args: string[], input: string) => runCollecting(command, args, input);

describe('workspace layout', () => {
  it('refuses environment ids that are not plain names', () => {
    for (const id of ['env_../../etc', '../env_abcdefgh', 'env_abc/defgh', 'env_short', '', 'xyz_abcdefghij', 'env_abcdefgh\n']) {
      assert.throws(() => workspaceLayout('/data', id, 'web'), /environmentId must look like/, JSON.stringify(id));
    }
    const layout = workspaceLayout('/data', 'env_abcdefgh12', 'web');
    assert.deepEqual(layout, {
      root: '/data/workspaces/env_abcdefgh12',
      worktree: '/data/workspaces/env_abcdefgh12/web',
      helperPath: '/data/workspaces/env_abcdefgh12/.keyway/credential-helper',
      secretPath: '/data/workspaces/env_abcdefgh12/.keyway/secret',
      networkConfigPath: '/data/workspaces/env_abcdefgh12/.keyway/network.gitconfig',
    });
    assert.equal(workspaceLayout('/data', 'env_abcdefgh12', 'web', '/srv/ws').root, '/srv/ws/env_abcdefgh12');
  });

  it('never uses a repository name as a path segment unsanitized', () => {
    assert.equal(repositoryDirName('web'), 'web');
    assert.equal(repositoryDirName('My Repo (old)'), 'My-Repo-old');
    assert.equal(repositoryDirName('..'), 'repo');
    assert.equal(repositoryDirName('.keyway'), 'keyway');
    assert.equal(repositoryDirName('../../etc/passwd'), 'etc-passwd');
    assert.equal(repositoryDirName('Über'), 'Uber');
    assert.equal(repositoryDirName('日本'), 'repo');
    assert.equal(repositoryDirName('a'.repeat(300)).length, 64);
  });

  it('quotes paths for the shell whatever they contain', () => {
    assert.equal(shellQuote("/tmp/it's here"), `'/tmp/it'\\''s here'`);
    assert.equal(helperCommand('/a b/helper'), `!f() { [ "$1" != get ] || exec '/a b/helper' get; }; f`);
    // get and erase (git's report of a refused token) reach the socket; store never does.
    assert.equal(
      cacheHelperCommand("/run/it's.sock"),
      `!f() { case "$1" in get|erase) exec git credential-cache --socket '/run/it'\\''s.sock' "$1";; esac; }; f`,
    );
  });
});

describe('git remote and the credential target git describes', () => {
  const endpoints = resolveEndpoints({ services: 'http://127.0.0.1:4001' });
  it('sends Services repositories to the configured endpoint, Server ones to their own origin', () => {
    const services = {
      kind: 'services' as const,
      origin: 'https://dev.azure.com',
      organization: 'fabrikam',
      project: 'My Project',
      repository: 'web',
    };
    assert.equal(gitRemoteUrl(services, endpoints), 'http://127.0.0.1:4001/fabrikam/My%20Project/_git/web');
    const server = {
      kind: 'server' as const,
      origin: 'https://tfs.example.com',
      virtualDirectory: '/tfs',
      organization: 'DefaultCollection',
      collection: 'DefaultCollection',
      project: 'P',
      repository: 'r',
    };
    assert.equal(gitRemoteUrl(server, endpoints), 'https://tfs.example.com/tfs/DefaultCollection/P/_git/r');
  });

  it('matches exactly what git sends with useHttpPath (decoded path, host with port)', () => {
    const target = gitCredentialTarget('http://127.0.0.1:4001/fabrikam/My%20Project/_git/web');
    assert.deepEqual(target, { protocol: 'http', host: '127.0.0.1:4001', path: 'fabrikam/My Project/_git/web' });
    assert.ok(
      sameCredentialTarget(parseCredentialRequest('protocol=http\nhost=127.0.0.1:4001\npath=fabrikam/My Project/_git/web\n\n'), target),
    );
    for (const other of [
      'protocol=https\nhost=127.0.0.1:4001\npath=fabrikam/My Project/_git/web\n',
      'protocol=http\nhost=127.0.0.1:4002\npath=fabrikam/My Project/_git/web\n',
      'protocol=http\nhost=127.0.0.1:4001\npath=fabrikam/My Project/_git/api\n',
      'protocol=http\nhost=127.0.0.1:4001\npath=fabrikam/My Project/_git/web/../api\n',
      'protocol=http\nhost=127.0.0.1:4001\n',
    ]) {
      assert.ok(!sameCredentialTarget(parseCredentialRequest(other), target), other);
    }
    // Only the first value of a repeated key counts, and nothing after the blank line.
    assert.deepEqual(parseCredentialRequest('host=a\nhost=b\n\npath=c\n'), { host: 'a' });
  });
});

describe('the helper script', () => {
  let dir: string;
  let server: Server;
  let socketPath: string;
  const requests: { auth: string | undefined; body: string }[] = [];
  let answer = { status: 200, body: 'username=oauth2\npassword=tok-en\n' };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "keyway-helper it's-"));
    socketPath = join(dir, 's.sock');
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        requests.push({ auth: req.headers.authorization, body });
        res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body);
      });
    });
    await new Promise<void>((r) => server.listen(socketPath, r));
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function install(name: string, socket = socketPath) {
    const layout = workspaceLayout(dir, `env_${name}`, 'web');
    await createWorkspace(layout, {
      helper: helperScript({ environmentId: `env_${name}`, socketPath: socket, secretPath: layout.secretPath }),
      secret: 'S'.repeat(43),
    });
    return layout;
  }

  it("passes git's request through, reads the secret from its file, and prints git's answer", async () => {
    const layout = await install('passthrough1');
    const r = await sh(layout.helperPath, ['get'], 'protocol=http\nhost=h\npath=o/p/_git/r\n\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'username=oauth2\npassword=tok-en\n');
    assert.deepEqual(requests.at(-1), { auth: `Bearer ${'S'.repeat(43)}`, body: 'protocol=http\nhost=h\npath=o/p/_git/r\n\n' });
  });

  it('store and erase do nothing and never call the runner', async () => {
    const layout = await install('storeerase1');
    const before = requests.length;
    for (const action of ['store', 'erase']) {
      const r = await sh(layout.helperPath, [action], 'protocol=http\nhost=h\nusername=u\npassword=p\n\n');
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    }
    assert.equal(requests.length, before);
  });

  it("prints the runner's reason and tells git to quit on a refusal", async () => {
    const layout = await install('refused001');
    answer = { status: 401, body: "this credential helper's environment no longer exists\n" };
    try {
      const r = await sh(layout.helperPath, ['get'], 'protocol=http\nhost=h\npath=p\n\n');
      assert.equal(r.stdout, 'quit=1\n');
      assert.equal(r.stderr, "keyway: this credential helper's environment no longer exists\n");
    } finally {
      answer = { status: 200, body: 'username=oauth2\npassword=tok-en\n' };
    }
  });

  it('says the runner is unreachable when the socket does not answer', async () => {
    const layout = await install('nosocket01', join(dir, 'missing.sock'));
    const r = await sh(layout.helperPath, ['get'], 'protocol=http\nhost=h\npath=p\n\n');
    assert.equal(r.stdout, 'quit=1\n');
    assert.match(
      r.stderr,
      /^keyway: cannot ask the Keyway runner for a token \(curl exit 7\): is the runner running, and is the workspace secret file \.keyway\/secret readable\?\n$/,
    );
  });
});
