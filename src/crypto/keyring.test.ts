import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, test } from 'node:test';
import { decryptField, encryptField } from './at-rest.ts';
import { KeyConfigError } from './errors.ts';
import { formatKeyFile, keyringFromEnv, parseKeyring, withNewPrimaryKey } from './keyring.ts';

const std = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const ctx = { table: 't', column: 'c', rowId: 1 };

function expectConfigError(text: string, message: RegExp, source?: string): KeyConfigError {
  try {
    parseKeyring(text, source);
  } catch (error) {
    assert.ok(error instanceof KeyConfigError, `expected KeyConfigError, got ${String(error)}`);
    assert.match(error.message, message);
    return error;
  }
  assert.fail('expected a KeyConfigError');
}

describe('parseKeyring', () => {
  test('one key is the primary', () => {
    const keyring = parseKeyring(`k1:${std(randomBytes(32))}\n`);
    assert.equal(keyring.primaryId, 'k1');
    assert.deepEqual(keyring.ids, ['k1']);
  });

  test('without primary= the first key is primary; primary= overrides; comments and blanks are skipped', () => {
    const a = std(randomBytes(32));
    const b = std(randomBytes(32));
    assert.equal(parseKeyring(`k2:${b}\nk1:${a}`).primaryId, 'k2');
    const keyring = parseKeyring(`# keys\n\n  k1:${a}  \r\n# primary below\nprimary=k2\nk2:${b}\n`);
    assert.equal(keyring.primaryId, 'k2');
    assert.deepEqual(keyring.ids, ['k1', 'k2']);
  });

  test('the environment variable may hold everything on one line, base64 or base64url, padded or not', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const keyring = keyringFromEnv(`primary=k1, k1:${url(a)},k2:${std(b)}`);
    assert.equal(keyring.primaryId, 'k1');
    assert.deepEqual(keyring.ids, ['k1', 'k2']);
    assert.equal(keyring.source, 'KEYWAY_ENCRYPTION_KEYS');
    // The same bytes written differently are the same key.
    const c = encryptField(keyring, 'v', ctx);
    assert.equal(decryptField(parseKeyring(`k1:${std(a).replace(/=+$/, '')}`), c, ctx), 'v');
  });

  test('a key of the wrong length is refused naming the line and id, not the key', () => {
    const short = std(randomBytes(16));
    const error = expectConfigError(
      `k1:${std(randomBytes(32))}\nk2:${short}`,
      /^key file \/x, line 2: key "k2" is 16 bytes, but an encryption key must be exactly 32 bytes/,
      'key file /x',
    );
    assert.ok(!error.message.includes(short));
    expectConfigError(`k1:${std(randomBytes(33))}`, /line 1: key "k1" is 33 bytes/);
  });

  test('other format errors name the line and what is wrong', () => {
    const key = std(randomBytes(32));
    const cases: [string, RegExp][] = [
      ['', /holds no keys/],
      ['# only a comment\n\n', /holds no keys/],
      [`${key}`, /line 1: expected "<id>:<base64 of 32 bytes>" or "primary=<id>"/],
      [`k1:${key}\nk1:${key}`, /line 2: key "k1" appears twice \(also on line 1\)/],
      [`k.1:${key}`, /line 1: a key id must be 1-32 letters/],
      [`:${key}`, /line 1: a key id must be 1-32 letters/],
      [`${'k'.repeat(33)}:${key}`, /line 1: a key id must be 1-32 letters/],
      [`k1:${key.slice(0, 20)}!${key.slice(21)}`, /line 1: key "k1" is not valid base64/],
      [`k1:${key}\nprimary=k1\nprimary=k1`, /line 3: a second primary= entry \(the first is on line 2\)/],
      [`primary=k9\nk1:${key}`, /line 1: primary=k9 names a key that is not in the list \(keys: k1\)/],
      [`primary=\nk1:${key}`, /line 1: the primary= entry needs a key id/],
    ];
    for (const [text, message] of cases) {
      const error = expectConfigError(text, message);
      assert.ok(!error.message.includes(key.slice(0, 20)), 'key material in message');
    }
  });

  test('keys are not reachable through inspect or JSON', () => {
    const key = randomBytes(32);
    const keyring = parseKeyring(`k1:${std(key)}`);
    const shown = `${inspect(keyring, { depth: 10, showHidden: true })}\n${JSON.stringify(keyring)}`;
    for (const encoding of ['base64', 'base64url', 'hex'] as const) {
      assert.ok(!shown.includes(key.toString(encoding).slice(0, 16)), `key visible as ${encoding}`);
    }
    assert.match(shown, /primaryId/);
  });
});

describe('formatKeyFile / withNewPrimaryKey', () => {
  test('the formatted file parses back to the same keys', () => {
    const keyring = parseKeyring(`k1:${std(randomBytes(32))}\nk2:${std(randomBytes(32))}`);
    const text = formatKeyFile(keyring);
    assert.match(text, /^# Keyway data encryption keys/);
    const again = parseKeyring(text);
    assert.equal(again.primaryId, 'k1');
    assert.deepEqual(again.ids, ['k1', 'k2']);
    const underK2 = parseKeyring(text.replace('primary=k1', 'primary=k2'));
    assert.equal(underK2.primaryId, 'k2');
    for (const writer of [keyring, underK2]) {
      assert.equal(decryptField(again, encryptField(writer, 'v', ctx), ctx), 'v');
    }
  });

  test('a new primary gets the next k<N> id and the old keys stay', () => {
    const keyring = parseKeyring(`k3:${std(randomBytes(32))}\nold:${std(randomBytes(32))}`);
    const next = withNewPrimaryKey(keyring);
    assert.equal(next.primaryId, 'k4');
    assert.deepEqual(next.ids, ['k3', 'old', 'k4']);
    assert.equal(withNewPrimaryKey(parseKeyring(`prod:${std(randomBytes(32))}`)).primaryId, 'k1');
    const c = encryptField(keyring, 'v', ctx);
    assert.equal(decryptField(next, c, ctx), 'v');
  });
});
