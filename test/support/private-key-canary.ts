// Canaries for the private keys a runner makes for its Entra apps (issue 19): each key, in every
// form it could leak in (PEM lines, its DER as base64 and base64url, its JWK private parameters),
// registered with a CanaryScan that then reads both databases, the logs and the API's answers.
import { createPrivateKey } from 'node:crypto';
import type { CanaryScan } from '../resilience/support/canary.ts';
import { createFieldCrypto } from '../../src/runner/keys/field-crypto.ts';
import type { Browser } from './management.ts';
import type { TestRunner } from './plane.ts';

/** Watches every private key the runner holds now; returns how many. Call it whenever keys may have been made. */
export async function watchRunnerPrivateKeys(scan: CanaryScan, runner: TestRunner): Promise<number> {
  const crypto = createFieldCrypto(runner.store.keys);
  const rows = await runner.store.database.db.selectFrom('client_certificates').select(['id', 'private_key']).execute();
  for (const row of rows) {
    const pem = await crypto.decrypt(row.private_key, { table: 'client_certificates', column: 'private_key', rowId: row.id });
    const body = pem.split('\n').filter((l) => l && !l.startsWith('-----'));
    // Two PEM lines from the middle (64 base64 characters each: unique to this key).
    for (const line of body.slice(3, 5)) scan.watch(line, `private key ${row.id} (PEM)`);
    const der = Buffer.from(body.join(''), 'base64');
    scan.watch(der.subarray(96, 150).toString('base64'), `private key ${row.id} (DER, base64)`);
    scan.watch(der.subarray(96, 150).toString('base64url'), `private key ${row.id} (DER, base64url)`);
    const jwk = createPrivateKey(pem).export({ format: 'jwk' });
    for (const p of ['d', 'p', 'q'] as const) if (jwk[p]) scan.watch(jwk[p].slice(10, 74), `private key ${row.id} (JWK ${p})`);
  }
  return rows.length;
}

/** Every answer the browser gets from here on goes to the scan. */
export function recordResponses(scan: CanaryScan, browser: Browser, label: string): void {
  const request = browser.request.bind(browser);
  browser.request = async (options) => {
    const res = await request(options);
    scan.response(`${label} ${options.method ?? 'GET'} ${String(options.url)}`, {
      statusCode: res.statusCode,
      headers: res.headers,
      body: res.body,
    });
    return res;
  };
}
