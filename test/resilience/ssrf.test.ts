// SSRF through the two URLs an admin gives Keyway for a runner to call with credentials: the
// integration's `host` (an Azure DevOps Server) and its OAuth `issuerUrl`. Only the configured kinds
// of hosts pass: dev.azure.com, a Server by name (and, with KEYWAY_ALLOW_INSECURE_HOSTS, loopback and
// private addresses for labs), and Entra ID's sign-in hosts (or the configured authority). Link-local,
// cloud metadata and platform addresses are refused in every mode and in every spelling.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateRunnerKeyPair } from '../../src/crypto/sealing.ts';
import { HostPolicyError, checkResolvedHost, normalizeHost } from '../../src/azure-devops/host-policy.ts';
import { Browser, startTestManagement } from '../support/management.ts';
import type { TestManagement } from '../support/management.ts';
import { CanaryScan } from './support/canary.ts';
import { preferredKind } from './support/world.ts';

/** Refused whatever the mode: metadata, link-local and their disguises. */
const ALWAYS_REFUSED = [
  '169.254.169.254',
  'http://169.254.169.254/',
  'http://2852039166/', // 169.254.169.254 as one decimal number
  '2852039166',
  '0251.0376.0251.0376', // octal
  '0xa9.0xfe.0xa9.0xfe', // hex
  '0xa9fea9fe',
  '169.254.169.254.', // trailing dot
  '169.254.0.1',
  '[::ffff:169.254.169.254]', // IPv4-mapped
  '[::ffff:a9fe:a9fe]',
  '[0:0:0:0:0:ffff:a9fe:a9fe]',
  '[::ffff:0:a9fe:a9fe]', // IPv4-translated
  '[::a9fe:a9fe]', // IPv4-compatible
  '[::169.254.169.254]',
  '[64:ff9b::a9fe:a9fe]', // NAT64
  '[64:ff9b:1::a9fe:a9fe]',
  '[2002:a9fe:a9fe::1]', // 6to4 around 169.254.169.254
  '[fe80::1]', // link-local
  '[febf::1]',
  '[fd00:ec2::254]', // AWS metadata over IPv6
  '[ff02::1]', // multicast
  '[::]',
  '0.0.0.0',
  '224.0.0.1',
  '100.100.100.200', // Alibaba Cloud metadata
  '168.63.129.16', // Azure WireServer
  '192.0.0.192', // Oracle Cloud metadata
  'metadata.google.internal',
  'METADATA.GOOGLE.INTERNAL',
  'metadata.google.internal.',
  'metadata.goog',
  'metadata.azure.com',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
  '169.254.169.254.nip.io', // wildcard DNS spelling the address
  'a9fe-a9fe.sslip.io.169-254-169-254.sslip.io',
  '169-254-169-254.sslip.io',
  'https://user:pass@tfs.example.com', // credentials in the URL
  'https://tfs.example.com?x=1',
  'https://tfs.example.com#frag',
  'ftp://tfs.example.com',
  'file:///etc/passwd',
  'gopher://tfs.example.com',
];

/** Refused unless the instance allows insecure hosts (labs, the emulator). */
const INSECURE_ONLY = [
  '127.0.0.1',
  '127.1',
  '0x7f.1',
  '2130706433',
  '10.0.0.1',
  '172.16.5.4',
  '192.168.1.10',
  '100.64.0.1',
  '[::1]',
  '[fd12:3456::1]',
  '[fc00::1]',
  'localhost',
  'LOCALHOST',
  'localhost.',
  'build.localhost',
  'localtest.me',
  'x.lvh.me',
  '10-0-0-1.sslip.io',
  'http://tfs.example.com',
];

/** Accepted in both modes. */
const ACCEPTED = [
  'dev.azure.com',
  'https://dev.azure.com',
  'contoso.visualstudio.com',
  'tfs.example.com',
  'https://tfs.example.com/tfs',
  'tfs.example.com:8443',
  '[2001:db8::1]',
  '93.184.216.34',
  '52-1-2-3.nip.io',
];

const ISSUER_ATTACKS = [
  'http://169.254.169.254/00000000-0000-0000-0000-000000000000/v2.0',
  'https://169.254.169.254/00000000-0000-0000-0000-000000000000/v2.0',
  'https://[::ffff:a9fe:a9fe]/00000000-0000-0000-0000-000000000000/v2.0',
  'https://metadata.google.internal/computeMetadata/v1/',
  'https://login.microsoftonline.com.evil.test/00000000-0000-0000-0000-000000000000/v2.0',
  'https://login.microsoftonline.com@169.254.169.254/00000000-0000-0000-0000-000000000000/v2.0',
  'https://login.microsoftonline.com\\@evil.test/00000000-0000-0000-0000-000000000000/v2.0',
  'https://evil.test/login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0',
  'https://login.microsoftonline.com:8443/00000000-0000-0000-0000-000000000000/v2.0',
  'http://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0',
  'https://login.microsoftonline.com/../../169.254.169.254/v2.0',
  'https://login.microsoftonline.com/%2e%2e/evil/v2.0',
  'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0\r\nHost: 169.254.169.254',
  'file:///etc/passwd',
  'javascript:alert(1)',
  // The configured authority is http://127.0.0.1:9 below; another port on the same host is not it.
  'http://127.0.0.1:10/00000000-0000-0000-0000-000000000000/v2.0',
  'http://127.0.0.1:9@169.254.169.254/00000000-0000-0000-0000-000000000000/v2.0',
];

function refused(host: string, allowInsecure: boolean): boolean {
  try {
    normalizeHost(host, undefined, { allowInsecure });
    return false;
  } catch (err) {
    if (err instanceof HostPolicyError) return true;
    throw err;
  }
}

describe('SSRF: the host policy table', () => {
  for (const host of ALWAYS_REFUSED) {
    it(`refuses ${JSON.stringify(host)} in every mode`, () => {
      assert.equal(refused(host, false), true, 'accepted without insecure hosts');
      assert.equal(refused(host, true), true, 'accepted with KEYWAY_ALLOW_INSECURE_HOSTS');
    });
  }
  for (const host of INSECURE_ONLY) {
    it(`refuses ${JSON.stringify(host)} unless insecure hosts are allowed`, () => {
      assert.equal(refused(host, false), true);
      assert.equal(refused(host, true), false);
    });
  }
  for (const host of ACCEPTED) {
    it(`accepts ${JSON.stringify(host)}`, () => {
      assert.equal(refused(host, false), false);
      assert.equal(refused(host, true), false);
    });
  }

  it('at connection time, a DNS name is judged by every address it resolves to', async () => {
    const dns = (answers: Record<string, string[]>) => async (host: string) => (answers[host] ?? []).map((address) => ({ address }));
    const lookup = dns({
      'tfs.example.com': ['93.184.216.34'],
      'rebind.example.com': ['93.184.216.34', '169.254.169.254'],
      'lab.example.com': ['10.1.2.3'],
      'v6.example.com': ['::ffff:169.254.169.254'],
    });
    assert.deepEqual(await checkResolvedHost('tfs.example.com', false, lookup), ['93.184.216.34']);
    await assert.rejects(checkResolvedHost('rebind.example.com', true, lookup), /resolves to 169\.254\.169\.254/);
    await assert.rejects(checkResolvedHost('v6.example.com', true, lookup), /IPv4-mapped/);
    await assert.rejects(checkResolvedHost('lab.example.com', false, lookup), /private/);
    assert.deepEqual(await checkResolvedHost('lab.example.com', true, lookup), ['10.1.2.3']);
    await assert.rejects(checkResolvedHost('nowhere.example.com', true, lookup), /does not resolve/);
  });
});

const kind = await preferredKind();
for (const allowInsecureHosts of [false, true]) {
  describe(`SSRF through the API: host and issuerUrl of Save & Test (${kind}, insecure hosts ${allowInsecureHosts ? 'allowed' : 'refused'})`, () => {
    let t: TestManagement;
    let admin: Browser;
    let runnerId: string;
    const canaries = new CanaryScan();
    before(async () => {
      t = await startTestManagement(kind, { allowInsecureHosts, integrationTestTimeoutMs: 500, entraAuthorityUrl: 'http://127.0.0.1:9' });
      admin = new Browser(t.app);
      await admin.signIn(t.admin.email, t.admin.password);
      const created = await admin.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'ssrf' } });
      runnerId = created.json().runner.id;
      const exchanged = await t.app.inject({
        method: 'POST',
        url: '/api/v1/runner/exchange',
        payload: { exchangeToken: created.json().exchangeToken, publicKey: (await generateRunnerKeyPair()).publicKey, version: 'test' },
      });
      assert.equal(exchanged.statusCode, 200, exchanged.body);
      canaries.source('logs', 'management plane log', () => t.logs.text);
      canaries.database('management database', t.database.db as never, t.database.schema);
    });
    after(async () => t?.close());

    const save = (host: string, issuerUrl?: string, secret?: string) =>
      admin.request({
        method: 'POST',
        url: `/api/v1/runners/${runnerId}/scm-integrations`,
        payload: {
          scmId: 'azure-devops',
          host,
          pat: { enabled: true },
          ...(issuerUrl ? { oauth: { clientId: '11111111-1111-1111-1111-111111111111', clientSecret: secret ?? 'x', issuerUrl } } : {}),
        },
      });

    it('refuses every metadata and link-local host form with 400 invalid_host, and saves nothing', async () => {
      const wrong: string[] = [];
      for (const host of [...ALWAYS_REFUSED, ...(allowInsecureHosts ? [] : INSECURE_ONLY)]) {
        const res = await save(host);
        canaries.response(`host ${host}`, res);
        if (res.statusCode !== 400 || res.json().error.code !== 'invalid_host')
          wrong.push(`${host}: ${res.statusCode} ${res.body.slice(0, 120)}`);
      }
      assert.deepEqual(wrong, []);
      const listed = await admin.request({ method: 'GET', url: `/api/v1/runners/${runnerId}/scm-integrations` });
      assert.deepEqual(listed.json().integrations, []);
    });

    it('refuses issuer URLs that are not Entra ID (or the configured authority) with 400 on oauth.issuerUrl, never echoing the secret', async () => {
      const wrong: string[] = [];
      for (const issuer of ISSUER_ATTACKS) {
        const secret = canaries.canary('client secret');
        const res = await save('dev.azure.com', issuer, secret);
        canaries.response(`issuer ${issuer}`, res);
        const body = res.json() as { error?: { code?: string; field?: string } };
        if (res.statusCode !== 400 || body.error?.field !== 'oauth.issuerUrl')
          wrong.push(`${JSON.stringify(issuer)}: ${res.statusCode} ${res.body.slice(0, 160)}`);
      }
      assert.deepEqual(wrong, []);
    });

    it('no canary in logs, responses or the management database', async () => {
      await canaries.assertClean();
    });
  });
}
