import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { expectStatus, saveAccessTokenConnection, startAutomationWorld } from '../../test/support/automation.ts';
import type { AutomationWorld } from '../../test/support/automation.ts';
import { KEYWAY_BIN } from '../../test/support/cli.ts';
import { generateRunnerKeyPair, open } from '../crypto/sealing.ts';

// A second implementation of docs/sealing.md, written from the document and RFC 9180 alone: plain
// JavaScript on node:crypto (X25519, HMAC-SHA256, AES-256-GCM), no HPKE library, no Keyway code.
// It reads the plaintext on stdin and PUBLIC_KEY / AAD from the environment.
const INDEPENDENT_SEALER = String.raw`
import crypto from 'node:crypto';
import fs from 'node:fs';
const b64u = (buf) => Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromB64u = (s) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
const i2osp = (n, len) => { const b = Buffer.alloc(len); b.writeUIntBE(n, 0, len); return b; };
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
const extract = (salt, ikm) => hmac(salt.length ? salt : Buffer.alloc(32), ikm);
function expand(prk, info, length) {
  let t = Buffer.alloc(0), out = Buffer.alloc(0);
  for (let i = 1; out.length < length; i++) { t = hmac(prk, Buffer.concat([t, info, Buffer.from([i])])); out = Buffer.concat([out, t]); }
  return out.subarray(0, length);
}
const V1 = Buffer.from('HPKE-v1');
const labeledExtract = (suite, salt, label, ikm) => extract(salt, Buffer.concat([V1, suite, Buffer.from(label), ikm]));
const labeledExpand = (suite, prk, label, info, L) => expand(prk, Buffer.concat([i2osp(L, 2), V1, suite, Buffer.from(label), info]), L);
const KEM_SUITE = Buffer.concat([Buffer.from('KEM'), i2osp(0x0020, 2)]);
const HPKE_SUITE = Buffer.concat([Buffer.from('HPKE'), i2osp(0x0020, 2), i2osp(0x0001, 2), i2osp(0x0002, 2)]);
const empty = Buffer.alloc(0);

const pkR = fromB64u(process.env.PUBLIC_KEY);
const aad = Buffer.from(process.env.AAD, 'utf8');
const plaintext = fs.readFileSync(0);

// Encap (RFC 9180 §4.1)
const eph = crypto.generateKeyPairSync('x25519');
const enc = fromB64u(eph.publicKey.export({ format: 'jwk' }).x);
const recipient = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(pkR) }, format: 'jwk' });
const dh = crypto.diffieHellman({ privateKey: eph.privateKey, publicKey: recipient });
const kemContext = Buffer.concat([enc, pkR]);
const eaePrk = labeledExtract(KEM_SUITE, empty, 'eae_prk', dh);
const sharedSecret = labeledExpand(KEM_SUITE, eaePrk, 'shared_secret', kemContext, 32);
// KeySchedule, mode_base (RFC 9180 §5.1)
const info = Buffer.from('keyway sealing v1', 'utf8');
const pskIdHash = labeledExtract(HPKE_SUITE, empty, 'psk_id_hash', empty);
const infoHash = labeledExtract(HPKE_SUITE, empty, 'info_hash', info);
const context = Buffer.concat([Buffer.from([0x00]), pskIdHash, infoHash]);
const secret = labeledExtract(HPKE_SUITE, sharedSecret, 'secret', empty);
const key = labeledExpand(HPKE_SUITE, secret, 'key', context, 32);
const nonce = labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, 12); // sequence 0
const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce);
cipher.setAAD(aad);
const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
const fingerprint = b64u(crypto.createHash('sha256').update(pkR).digest()).slice(0, 16);
process.stdout.write(['hpke1', fingerprint, b64u(enc), b64u(ct)].join('.'));
`;

describe('Sealing from automation: keyway seal and an implementation written from docs/sealing.md both open on the runner', () => {
  let w: AutomationWorld;
  let apiToken: string;
  let publicKey: string;
  const dir = mkdtempSync(join(tmpdir(), 'keyway-seal-'));
  const script = join(dir, 'independent-sealer.mjs');
  writeFileSync(script, INDEPENDENT_SEALER);

  before(async () => {
    w = await startAutomationWorld('sqlite');
    apiToken = expectStatus(
      await w.plane.adminBrowser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'seal test' } }),
      201,
    ).json().token;
    publicKey = expectStatus(await w.plane.adminBrowser.request({ method: 'GET', url: `/api/v1/runners/${w.runnerId}` }), 200).json()
      .publicKey;
  });
  after(async () => w?.close());

  // Asynchronous: the management plane answering the CLI runs in this process.
  function keywaySeal(
    args: string[],
    input: string,
    env: Record<string, string> = {},
  ): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [KEYWAY_BIN, 'seal', '--server', w.plane.url, '--runner', w.runnerId, ...args], {
      env: { ...process.env, KEYWAY_FROM_SOURCE: '1', KEYWAY_API_TOKEN: apiToken, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.stdin.end(input);
    return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout: stdout.trim(), stderr })));
  }

  function independentSeal(aad: string, plaintext: string, key = publicKey): string {
    const result = spawnSync(process.execPath, [script], {
      input: plaintext,
      env: { PUBLIC_KEY: key, AAD: aad },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  }

  const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;

  it('app-connection: the PAT sealed by keyway seal (stdin, trailing newline dropped) and by the independent sealer is accepted and works', async () => {
    const viaCli = newId('conn');
    const cli = await keywaySeal(['--for', 'app-connection', '--id', viaCli], `${w.seeded.pat}\n`);
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /^hpke1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]+$/);
    assert.ok(!cli.stderr.includes(w.seeded.pat) && !cli.stdout.includes(w.seeded.pat), 'the secret never appears in the output');
    const viaScript = newId('conn');
    const sealedByScript = independentSeal(`app-connection:${viaScript}:secret`, w.seeded.pat);

    for (const [id, sealed] of [
      [viaCli, cli.stdout],
      [viaScript, sealedByScript],
    ] as const) {
      const saved = await saveAccessTokenConnection(w, { id, name: `sealed ${id.slice(-6)}`, sealedAccessToken: sealed });
      assert.equal(saved.validation.valid, true, JSON.stringify(saved.validation));
      assert.equal(saved.validation.identity.id, w.seeded.user.id);
    }
  });

  it('client-secret: both sealed client secrets pass Save & Test on the runner (the runner signs in to Entra ID with them)', async () => {
    const issuerUrl = `${w.seeded.emu.urls.login}/${w.seeded.emu.defaultTenant.id}/v2.0`;
    // Without --id, keyway seal makes up the integration id and says it on stderr.
    const cli = await keywaySeal(['--for', 'client-secret'], w.seeded.clientSecret);
    assert.equal(cli.status, 0, cli.stderr);
    const cliId = /id: (int_[A-Za-z0-9_-]+)/.exec(cli.stderr)?.[1];
    assert.ok(cliId, cli.stderr);
    const scriptId = newId('int');
    const sealedByScript = independentSeal(`scm-integration:${scriptId}:oauth-client-secret`, w.seeded.clientSecret);
    for (const [id, sealed] of [
      [cliId, cli.stdout],
      [scriptId, sealedByScript],
    ] as const) {
      const base = `/api/v1/runners/${w.runnerId}/scm-integrations`;
      // Registered before Save & Test, as an admin would: the test checks the callback (AADSTS50011).
      w.seeded.app.redirectUris.push(`${w.plane.url}/api/v1/oauth/callback/${id}`);
      const saved = expectStatus(
        await w.plane.adminBrowser.request({
          method: 'POST',
          url: base,
          payload: {
            id,
            scmId: 'azure-devops',
            host: 'dev.azure.com',
            oauth: { clientId: w.seeded.clientId, sealedClientSecret: sealed, issuerUrl },
            pat: { enabled: false },
          },
        }),
        201,
      ).json();
      assert.equal(saved.test.valid, true, JSON.stringify(saved.test));
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base}/${id}` }), 204);
    }
  });

  it('sync: variable values sealed by both implementations are stored by the runner and written to Azure DevOps', async () => {
    const connection = (await saveAccessTokenConnection(w, { name: 'for syncs', accessToken: w.seeded.pat })).connection.id as string;
    const value = `v-${randomUUID()}`;
    for (const how of ['cli', 'script'] as const) {
      const sync = expectStatus(
        await w.plane.adminBrowser.request({
          method: 'POST',
          url: `/api/v1/projects/${w.projectId}/syncs`,
          payload: {
            name: `sealed ${how}`,
            connectionId: connection,
            project: w.seeded.project,
            groupName: `sealed-${how}`,
            enabled: false,
          },
        }),
        201,
      ).json().sync.id as string;
      const values = JSON.stringify({ API_KEY: value });
      const sealed =
        how === 'cli'
          ? (await keywaySeal(['--for', 'sync', '--id', sync], values)).stdout
          : independentSeal(`sync:${sync}:variables`, values);
      const stored = expectStatus(
        await w.plane.adminBrowser.request({
          method: 'PUT',
          url: `/api/v1/projects/${w.projectId}/syncs/${sync}/variables`,
          payload: { variables: [{ name: 'API_KEY', isSecret: true }], sealedValues: sealed },
        }),
        200,
      ).json();
      assert.deepEqual(stored.variables, [{ name: 'API_KEY', isSecret: true }]);
      const run = expectStatus(
        await w.plane.adminBrowser.request({ method: 'POST', url: `/api/v1/projects/${w.projectId}/syncs/${sync}/run` }),
        200,
      ).json();
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      const world = w.seeded.emu.world;
      const group = world.listVariableGroups(world.requireOrganization(w.seeded.org)).find((g) => g.name === `sealed-${how}`);
      assert.ok(group, 'the variable group was created');
      assert.equal(world.readVariable(w.seeded.org, group.id, 'API_KEY'), value);
    }
  });

  it('the independent sealer and @hpke/core agree byte for byte on what opens: its value opens with the runner key file, with the right record only', async () => {
    const pair = await generateRunnerKeyPair();
    const sealed = independentSeal('app-connection:conn_abcdefgh:secret', 'hello, runner', pair.publicKey);
    assert.equal(await open(pair.privateKey, sealed, 'app-connection:conn_abcdefgh:secret'), 'hello, runner');
    await assert.rejects(open(pair.privateKey, sealed, 'app-connection:conn_otherone:secret'), /does not authenticate/);
  });

  it('attacks: a value sealed for another record or another runner key is refused, and says so', async () => {
    const intended = newId('conn');
    const moved = newId('conn');
    const sealed = (await keywaySeal(['--for', 'app-connection', '--id', intended], w.seeded.pat)).stdout;
    const replayed = await saveAccessTokenConnection(w, { id: moved, name: 'replayed', sealedAccessToken: sealed }, 400);
    assert.equal(replayed.error.code, 'sealed_secret_unusable');
    const stranger = await generateRunnerKeyPair();
    const foreign = independentSeal(`app-connection:${moved}:secret`, w.seeded.pat, stranger.publicKey);
    const refused = await saveAccessTokenConnection(w, { id: moved, name: 'foreign', sealedAccessToken: foreign }, 400);
    assert.equal(refused.error.code, 'sealed_for_another_key');
  });

  it('bad input: missing token, wrong id shape, sync values that are not an object: one line saying what to fix, exit 2, the secret not echoed', async () => {
    const noToken = await keywaySeal(['--for', 'pat', '--id', 'int_abcdefgh', '--user', 'usr_x'], 'secret-value-here', {
      KEYWAY_API_TOKEN: '',
    });
    assert.equal(noToken.status, 2);
    assert.match(noToken.stderr, /KEYWAY_API_TOKEN/);
    const badId = await keywaySeal(['--for', 'app-connection', '--id', 'conn_!'], 'secret-value-here');
    assert.equal(badId.status, 2);
    assert.match(badId.stderr, /--id/);
    const notObject = await keywaySeal(['--for', 'sync', '--id', 'sync_abcdefgh'], '["secret-value-here"]');
    assert.equal(notObject.status, 2);
    assert.doesNotMatch(notObject.stderr, /secret-value-here/);
    const noUser = await keywaySeal(['--for', 'pat', '--id', 'int_abcdefgh'], 'secret-value-here');
    assert.equal(noUser.status, 2);
    assert.match(noUser.stderr, /--user/);
  });
});
