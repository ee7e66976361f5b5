// Continuation tokens as Azure DevOps hands them out: opaque strings that clients never parse or
// build (docs/azure-devops.md, "REST calls"), some of which need URL-encoding. The emulator's are
// standard base64 (with `+`, `/` and `=`) of the position, bound to the listing they came from and
// signed, so a client that sends a number, a token of another listing, or one it failed to
// URL-encode is refused (400) instead of being served from the start. The refusal's wording and
// type are unconfirmed.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AdoError } from './errors.ts';

const SECRET = randomBytes(32);

function mac(payload: string): Buffer {
  return createHmac('sha256', SECRET).update(payload).digest().subarray(0, 12);
}

/** A token for `position` in the listing named by `scope` (resource, container, filters). */
export function issueToken(scope: string, position: number): string {
  const payload = `${position}`;
  const body = Buffer.concat([Buffer.from(payload, 'utf8'), Buffer.from([0]), mac(`${scope}\0${payload}`)]);
  // A leading marker byte keeps `+`/`/` likely in the text: clients must URL-encode it.
  return Buffer.concat([Buffer.from([0xfb, 0xef]), body]).toString('base64');
}

export function invalidToken(token: string): AdoError {
  return new AdoError(
    400,
    `The continuation token '${token}' is not valid for this request. Send back the token the previous page returned, unchanged (URL-encoded).`,
    'InvalidContinuationTokenException',
    {
      typeName: 'Microsoft.VisualStudio.Services.WebApi.InvalidContinuationTokenException, Microsoft.VisualStudio.Services.WebApi',
    },
  );
}

/** The position a token stands for; throws the service-shaped 400 for anything it did not issue for this listing. */
export function readToken(scope: string, token: string): number {
  const raw = /^[A-Za-z0-9+/]+={0,2}$/.test(token) ? Buffer.from(token, 'base64') : Buffer.alloc(0);
  if (raw.length < 2 + 1 + 1 + 12 || raw[0] !== 0xfb || raw[1] !== 0xef) throw invalidToken(token);
  const body = raw.subarray(2);
  const sep = body.indexOf(0);
  if (sep < 1) throw invalidToken(token);
  const payload = body.subarray(0, sep).toString('utf8');
  const given = body.subarray(sep + 1);
  const expected = mac(`${scope}\0${payload}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected) || !/^\d+$/.test(payload)) throw invalidToken(token);
  return Number(payload);
}
