// runGit stops git when it falls silent or runs out of time, and takes everything git started with
// it (issue 15: a stalled host kept git, its remote helper and their children running for 12+
// minutes). The children here are what a git alias starts through the shell: the same process
// tree a clone has (git → git-remote-https → credential helper → curl).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitCommandError, GitTimeoutError, runGit, subcommand } from './git.ts';

const dir = mkdtempSync(join(tmpdir(), 'keyway-git-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function gone(pid: number): Promise<boolean> {
  // The kernel reaps the killed grandchild shortly after its parent dies (init adopts it).
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

/** A git alias that writes the pid of the shell it runs in, then does `body`. */
const alias = (name: string, pidFile: string, body: string) => ['-c', `alias.${name}=!echo $$ > ${pidFile}; ${body}`, name];

describe('runGit', () => {
  it('stops git that writes nothing for the stall time, with the processes it started', async () => {
    const pidFile = join(dir, 'stall.pid');
    const slept = join(dir, 'stall.done');
    await assert.rejects(runGit(alias('hang', pidFile, `sleep 30; touch ${slept}`), { cwd: dir, stallTimeoutMs: 400 }), (err: unknown) => {
      assert.ok(err instanceof GitTimeoutError);
      assert.equal(err.reason, 'stalled');
      assert.match(err.message, /git hang made no progress for 0\.4 s and was stopped/);
      return true;
    });
    assert.ok(!existsSync(slept), 'stopped before the child would have ended');
    const shell = Number(readFileSync(pidFile, 'utf8').trim());
    assert.ok(await gone(shell), 'the shell git started (and its sleep) were killed with git');
  });

  it('output keeps git alive; silence after it is a stall', async () => {
    const pidFile = join(dir, 'talk.pid');
    // Talks every 100 ms for a while (longer than the stall time in all), then falls silent.
    // It notes when it has said all it had to say: a stop before that note is a stop while it talked.
    const quiet = join(dir, 'talk.quiet');
    const body = `i=0; while [ $i -lt 8 ]; do echo tick >&2; sleep 0.1; i=$((i+1)); done; touch ${quiet}; sleep 30`;
    await assert.rejects(
      runGit(alias('talk', pidFile, body), { cwd: dir, stallTimeoutMs: 500 }),
      (err: unknown) => err instanceof GitTimeoutError && err.reason === 'stalled',
    );
    assert.ok(existsSync(quiet), 'not stopped while it was still talking');
    assert.ok(await gone(Number(readFileSync(pidFile, 'utf8').trim())));
  });

  it('stops git at the deadline even while it keeps talking', async () => {
    const pidFile = join(dir, 'busy.pid');
    await assert.rejects(
      runGit(alias('busy', pidFile, 'while true; do echo tick >&2; sleep 0.05; done'), { cwd: dir, stallTimeoutMs: 5_000, timeoutMs: 600 }),
      (err: unknown) => {
        assert.ok(err instanceof GitTimeoutError);
        assert.equal(err.reason, 'deadline');
        return true;
      },
    );
    assert.ok(await gone(Number(readFileSync(pidFile, 'utf8').trim())));
  });

  it('an abort stops the whole process group too', async () => {
    const pidFile = join(dir, 'abort.pid');
    const controller = new AbortController();
    const running = runGit(alias('wait', pidFile, 'sleep 30'), { cwd: dir, signal: controller.signal });
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 20));
    controller.abort(new Error('deleted'));
    await assert.rejects(running, /deleted/);
    assert.ok(await gone(Number(readFileSync(pidFile, 'utf8').trim())));
  });

  it('a failing git is a GitCommandError naming the subcommand, not a timeout', async () => {
    await assert.rejects(
      runGit(['-c', 'x.y=z', 'rev-parse', '--verify', 'no-such-ref'], { cwd: dir, stallTimeoutMs: 5_000, timeoutMs: 10_000 }),
      (err: unknown) => err instanceof GitCommandError && /^git rev-parse failed/.test(err.message),
    );
    assert.equal(subcommand(['-c', 'http.followRedirects=false', '-c', 'a=b', 'clone', '--progress']), 'clone');
  });

  it('with a umask, what git creates is private', async () => {
    const repo = join(dir, 'private');
    await runGit(['init', '--quiet', repo], { cwd: dir, umask: 0o077 });
    assert.equal(statSync(join(repo, '.git', 'config')).mode & 0o077, 0);
    assert.equal(statSync(join(repo, '.git')).mode & 0o077, 0);
  });
});
