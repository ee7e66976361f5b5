// Isolated workspaces (KEYWAY_WORKSPACE_UIDS, issue 15): each environment's files and git belong to
// a Unix user of its own, so one environment can neither read another's workspace nor ask another's
// credential socket for a token, while its own git keeps working. Needs a Linux runner running as
// root (the runner hands files to other users and starts git as them); skipped elsewhere.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCollecting } from '../../../test/support/process.ts';
import { chmodSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSeeded } from '../../../emulator/test-support.ts';
import type { SeededWorld } from '../../../emulator/test-support.ts';
import { settledEnvironment, startTestPlane, startTestRunner } from '../../../test/support/plane.ts';
import type { TestPlane, TestRunner } from '../../../test/support/plane.ts';
import { checkIsolationPossible } from './isolation.ts';

const ROOT_ON_LINUX = process.platform === 'linux' && process.getuid?.() === 0;
const UIDS = { first: 4_200_000, last: 4_200_009 };

function runAs(
  uid: number,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCollecting(command, args, options.input ?? '', {
    uid,
    gid: uid,
    cwd: options.cwd ?? '/',
    env: { PATH: process.env.PATH, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', ...options.env },
  });
}

/** Every file under `dir` (not following links). */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe(
  'isolated workspaces: each environment its own Unix user',
  { skip: ROOT_ON_LINUX ? false : 'needs a Linux runner running as root' },
  () => {
    let seeded: SeededWorld;
    let plane: TestPlane;
    let runner: TestRunner;
    let runnerId: string;
    let workspacesDir: string;

    before(async () => {
      seeded = await startSeeded();
      plane = await startTestPlane('sqlite', {
        entraAuthorityUrl: seeded.emu.urls.login,
        azureDevOpsServicesUrl: seeded.emu.urls.services,
      });
      const created = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'isolated' } });
      runnerId = created.json().runner.id;
      const base = mkdtempSync(join(tmpdir(), 'keyway-isolated-'));
      chmodSync(base, 0o755);
      workspacesDir = join(base, 'workspaces');
      runner = await startTestRunner(plane.url, created.json().exchangeToken, {
        endpoints: { services: seeded.emu.urls.services, vssps: seeded.emu.urls.vssps },
        extra: { environmentOptions: { progressIntervalMs: 0, isolation: UIDS, workspacesDir } },
      });
      const integration = await plane.adminBrowser.request({
        method: 'POST',
        url: `/api/v1/runners/${runnerId}/scm-integrations`,
        payload: { scmId: 'azure-devops', host: 'dev.azure.com', pat: { enabled: true } },
      });
      assert.equal(integration.statusCode, 201, integration.body);
      const stored = await plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/scm/pat',
        payload: { integrationId: integration.json().integration.id, organization: seeded.org, token: seeded.pat },
      });
      assert.equal(stored.statusCode, 201, stored.body);
    });
    after(async () => {
      await runner?.stop();
      await plane?.close();
      await seeded?.close();
    });

    async function ready(): Promise<{ id: string; workspacePath: string }> {
      const res = await plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/environments',
        payload: { contextUrl: `${seeded.orgUrl}/${seeded.project}/_git/${seeded.repo}`, runnerId },
      });
      assert.equal(res.statusCode, 201, res.body);
      const env = await settledEnvironment(plane.memberBrowser, res.json().id, 'the clone');
      assert.equal(env.status, 'ready', JSON.stringify(env.error));
      return env;
    }

    it('refuses to start when the environments could not reach their workspaces', async () => {
      const closed = mkdtempSync(join(tmpdir(), 'keyway-closed-'));
      await assert.rejects(checkIsolationPossible(join(closed, 'workspaces')), /is not searchable by other users.*chmod o\+x/);
    });

    it("two environments: different users, private files; neither reads the other's workspace or asks the other's socket; each one's git works", async () => {
      const a = await ready();
      const b = await ready();
      const rootA = join(a.workspacePath, '..');
      const rootB = join(b.workspacePath, '..');
      const uidA = statSync(rootA).uid;
      const uidB = statSync(rootB).uid;
      assert.ok(uidA >= UIDS.first && uidA <= UIDS.last, `uid ${uidA} from the range`);
      assert.ok(uidB >= UIDS.first && uidB <= UIDS.last);
      assert.notEqual(uidA, uidB);
      assert.equal(statSync(rootA).mode & 0o777, 0o700);
      assert.equal(statSync(workspacesDir).mode & 0o777, 0o711, 'the workspaces directory can be entered, not listed');
      // Everything in the workspace is the environment's own and private (git ran with umask 077).
      const cloned = files(a.workspacePath).filter((f) => !f.includes(`${join(a.workspacePath, '.git')}/`));
      assert.ok(cloned.length > 0);
      for (const f of [...cloned, join(rootA, '.keyway', 'secret')]) {
        const st = statSync(f);
        assert.equal(st.uid, uidA, f);
        assert.equal(st.mode & 0o077, 0, `${f} is private`);
      }

      // B came from the runner's repository cache: its repository is B's user's, private, except the
      // pack files it shares with the cache, which stay the runner's and read-only (B's user cannot
      // change what other environments read).
      const gitB = readdirSync(join(b.workspacePath, '.git'), { withFileTypes: true, recursive: true })
        .filter((d) => d.isFile())
        .map((d) => join(d.parentPath, d.name));
      const shared = gitB.filter((f) => statSync(f).nlink > 1);
      assert.ok(
        shared.some((f) => f.endsWith('.pack')),
        'packs linked from the cache',
      );
      for (const f of shared) {
        assert.ok(f.includes(join('.git', 'objects', 'pack')), f);
        assert.deepEqual([statSync(f).uid, statSync(f).mode & 0o777], [0, 0o444], f);
      }
      for (const f of gitB.filter((g) => !shared.includes(g))) {
        assert.equal(statSync(f).uid, uidB, f);
        assert.equal(statSync(f).mode & 0o077, 0, `${f} is private`);
      }
      const chmodShared = await runAs(uidB, 'chmod', ['u+w', shared.find((f) => f.endsWith('.pack'))!]);
      assert.notEqual(chmodShared.code, 0, "B's user cannot make a shared pack writable");

      // B's user cannot read A's files, secret included.
      for (const f of [cloned[0]!, join(rootA, '.keyway', 'secret')]) {
        const read = await runAs(uidB, 'cat', [f]);
        assert.notEqual(read.code, 0);
        assert.match(read.stderr, /Permission denied/);
      }
      // Nor ask A's credential socket for A's token; A's user can.
      const socketA = (
        await runAs(uidA, 'git', ['config', '--get-all', 'credential.helper'], { cwd: a.workspacePath, env: { HOME: rootA } })
      ).stdout.match(/--socket '([^']+)'/)?.[1];
      assert.ok(socketA, 'the workspace asks its own socket first');
      const remote = new URL(seeded.orgUrl);
      const ask = `protocol=http\nhost=${remote.host}\npath=${seeded.org}/${seeded.project}/_git/${seeded.repo}\n\n`;
      const asB = await runAs(uidB, 'git', ['credential-cache', '--socket', socketA, 'get'], { input: ask, env: { HOME: rootB } });
      assert.ok(!/password=/.test(asB.stdout), "another environment's user gets nothing from the socket");
      const asA = await runAs(uidA, 'git', ['credential-cache', '--socket', socketA, 'get'], { input: ask, env: { HOME: rootA } });
      assert.match(asA.stdout, /^password=/m);

      // A's own git, as A's user, fetches with its helpers.
      await seeded.emu.world.commit(seeded.org, seeded.project, seeded.repo, { branch: 'main', files: { 'isolated.txt': 'new\n' } });
      const fetched = await runAs(uidA, 'git', ['fetch', 'origin'], { cwd: a.workspacePath, env: { HOME: rootA } });
      assert.equal(fetched.code, 0, fetched.stderr);

      for (const env of [a, b])
        assert.equal((await plane.memberBrowser.request({ method: 'DELETE', url: `/api/v1/environments/${env.id}` })).statusCode, 204);
      assert.deepEqual(
        readdirSync(workspacesDir).filter((n) => n.startsWith('env_')),
        [],
      );
    });
  },
);
