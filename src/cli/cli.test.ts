import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressAndLink, redeemSignInLink, runCli, signInAsAdmin, startCli, startInTempDir } from '../../test/support/cli.ts';

describe('keyway CLI', () => {
  it('start: creates the data directory and keys, serves /healthz, prints a working one-time sign-in link', async () => {
    const { cwd, run } = startInTempDir('keyway-start-');
    try {
      const { url, token } = await addressAndLink(run);
      assert.ok(url && token);
      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /keyway_http_request_duration_seconds_bucket\{[^}]*route="\/healthz"/);

      const dataDir = join(cwd, '.keyway-data');
      assert.equal(statSync(dataDir).mode & 0o777, 0o700);
      assert.equal(statSync(join(dataDir, 'encryption-keys')).mode & 0o777, 0o600);

      const page = await fetch(`${url}/sign-in/link`);
      assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
      const redeem = await redeemSignInLink(url, token);
      assert.equal(redeem.status, 200);
      const cookie = (redeem.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const me = await fetch(`${url}/api/v1/me`, { headers: { cookie } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { role: string }).role, 'admin');
      const again = await redeemSignInLink(url, token);
      assert.equal(again.status, 401);
      assert.ok(!run.output().includes('"level":50'), `no error logged:\n${run.output()}`);
    } finally {
      assert.equal(await run.stop(), 0);
    }

    // A restart reuses the data directory and its keys.
    const second = startCli(['start', '--port', '0'], { KEYWAY_LOG_LEVEL: 'warn' }, cwd);
    try {
      await second.waitFor(/is running at/);
      assert.ok(!second.output().includes('created a new encryption key file'));
    } finally {
      await second.stop();
    }
  });

  it('admin link and reset-password: an operator on the database machine always gets back in, audited', async () => {
    const { cwd, run } = startInTempDir('keyway-admin-');
    try {
      const { url, token: first } = await addressAndLink(run);
      const post = (path: string, body: unknown, cookie = '', csrf = '') =>
        fetch(`${url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
          body: JSON.stringify(body),
        });
      const redeem = async (token: string) => {
        const res = await post('/api/v1/auth/link', { token });
        assert.equal(res.status, 200);
        const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
        return { cookie, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
      };
      const session = await redeem(first!);
      const password = `pw-${Math.random().toString(36).slice(2)}-long-enough`;
      // A fresh link sign-in may set the first password without a current one.
      const set = await fetch(`${url}/api/v1/me/password`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', cookie: session.cookie, 'x-csrf-token': session.csrf },
        body: JSON.stringify({ password }),
      });
      assert.equal(set.status, 200, await set.text());
      assert.equal((await post('/api/v1/auth/sign-in', { email: 'admin@keyway.local', password })).status, 200);

      // The first link is spent; the operator prints another while Keyway runs.
      const link = runCli(['admin', 'link'], {}, cwd);
      assert.equal(link.status, 0, link.stderr);
      const [, again] = /#token=(kwl_\S+)/.exec(link.stdout) ?? [];
      assert.ok(again && again !== first);
      assert.ok(link.stdout.includes(url!), 'the link uses the URL the instance recorded');
      await redeem(again);

      const reset = runCli(['admin', 'reset-password', 'admin@keyway.local'], {}, cwd);
      assert.equal(reset.status, 0, reset.stderr);
      assert.match(reset.stdout, /no longer works; \d+ session\(s\) ended/);
      assert.equal((await post('/api/v1/auth/sign-in', { email: 'admin@keyway.local', password })).status, 401, 'the old password is gone');
      assert.equal((await fetch(`${url}/api/v1/me`, { headers: { cookie: session.cookie } })).status, 401, 'sessions ended');
      const [, resetToken] = /#token=(kwl_\S+)/.exec(reset.stdout) ?? [];
      const back = await redeem(resetToken!);
      const audit = (await (await fetch(`${url}/api/v1/audit-events?limit=50`, { headers: { cookie: back.cookie } })).json()) as {
        events: { action: string; actor: { label: string } }[];
      };
      assert.ok(audit.events.some((e) => e.action === 'operator.password_reset' && /operator command line/.test(e.actor.label)));
      assert.ok(audit.events.some((e) => e.action === 'operator.sign_in_link'));

      const unknown = runCli(['admin', 'link', '--email', 'nobody@keyway.local'], {}, cwd);
      assert.equal(unknown.status, 2);
      assert.match(unknown.stderr, /no account for nobody@keyway.local/);
    } finally {
      assert.equal(await run.stop(), 0);
    }
  });

  it('start: a wrong encryption key is a clear start-up error, not garbage', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'keyway-wrongkey-'));
    const dataDir = join(cwd, 'data');
    assert.equal(runCli(['migrate', '--runner', '--data-dir', dataDir]).status, 0);
    const first = startCli(['start', '--port', '0', '--data-dir', dataDir], { KEYWAY_LOG_LEVEL: 'warn' });
    await first.waitFor(/is running at/);
    await first.stop();
    const wrong = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
    const result = runCli(['start', '--port', '0', '--data-dir', dataDir], { KEYWAY_ENCRYPTION_KEYS: wrong, KEYWAY_LOG_LEVEL: 'warn' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /encryption key "k1" .* does not match/);
  });

  it('runner: a separate process registers with an exchange token, comes online, and restarts with the same identity', async () => {
    const { cwd, run: server } = startInTempDir('keyway-runner-cli-');
    const runnerDir = join(cwd, 'remote-runner');
    try {
      const admin = await signInAsAdmin(server);
      const { url, cookie } = admin;
      const created = await admin.post('/api/v1/runners', { name: 'remote' });
      const { runner, exchangeToken } = (await created.json()) as { runner: { id: string }; exchangeToken: string };

      const first = startCli(['runner', '--server', url ?? '', '--exchange-token', exchangeToken, '--data-dir', runnerDir], {
        KEYWAY_LOG_LEVEL: 'warn',
      });
      await first.waitFor(new RegExp(`runner "remote" \\(${runner.id}\\) connected`));
      const status = async () =>
        (
          (await (await fetch(`${url}/api/v1/runners/${runner.id}`, { headers: { cookie } })).json()) as {
            status: string;
            publicKey: string;
          }
        ).status;
      assert.equal(await status(), 'online');
      assert.equal(statSync(join(runnerDir, 'runner-key.json')).mode & 0o777, 0o600);
      assert.equal(await first.stop(), 0);

      const second = startCli(['runner', '--data-dir', runnerDir], { KEYWAY_LOG_LEVEL: 'warn' });
      await second.waitFor(new RegExp(`\\(${runner.id}\\) connected`));
      await second.stop();
    } finally {
      await server.stop();
    }
  });

  it('every command has --help', () => {
    for (const args of [
      ['--help'],
      ['start', '--help'],
      ['runner', '--help'],
      ['server', '--help'],
      ['migrate', '--help'],
      ['keys', 'rotate', '--help'],
      ['emulator', '--help'],
      ['context', 'parse', '--help'],
      ['admin', 'link', '--help'],
      ['admin', 'reset-password', '--help'],
      ['admin', 'operator', '--help'],
    ]) {
      const result = runCli(args);
      assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stdout, /Usage: keyway/);
    }
  });

  it('a bad flag or value gets one line and exit code 2', () => {
    for (const [args, pattern] of [
      [['start', '--port', 'abc'], /--port.*'abc' is invalid.*whole number/],
      [['start', '--port', '70000'], /whole number from 0 to 65535/],
      [['start', '--frobnicate'], /unknown option '--frobnicate'/],
      [['nonsense'], /unknown command 'nonsense'/],
      [['keys', 'rotate', '--batch-size', '0'], /at least 1/],
    ] as const) {
      const result = runCli([...args]);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
      assert.match(result.stderr, pattern);
    }
  });

  it('a bad configuration value names the variable and exits 2', () => {
    const result = runCli(['migrate', '--data-dir', mkdtempSync(join(tmpdir(), 'keyway-cfg-'))], { KEYWAY_LOG_LEVEL: 'loud' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /KEYWAY_LOG_LEVEL: "loud" is not one of/);
    const server = runCli(['server'], { KEYWAY_DATABASE_URL: '' });
    assert.equal(server.status, 2);
    assert.match(server.stderr, /KEYWAY_DATABASE_URL: is required/);
  });

  it('keys rotate adds a primary key and re-encrypts', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyway-rotate-'));
    assert.equal(runCli(['migrate', '--runner', '--data-dir', dataDir]).status, 0);
    const result = runCli(['keys', 'rotate', '--data-dir', dataDir]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /added key k2 .* now the primary key/);
    assert.match(result.stdout, /re-encrypted 0 value\(s\) under key k2/);
  });
});
