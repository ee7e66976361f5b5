// Data keys for encryption at rest, and the text format they are kept in.
//
// Key file / KEYWAY_ENCRYPTION_KEYS format (UTF-8 text):
//
//   # comment lines start with "#"; blank lines are ignored
//   primary=k2
//   k1:<base64 of 32 random bytes>
//   k2:<base64 of 32 random bytes>
//
// - One entry per line; entries may also be separated by commas or spaces, so the environment
//   variable can hold everything on one line: "primary=k2,k1:AAAA…,k2:BBBB…".
// - "<id>:<key>": id is 1–32 of A–Z a–z 0–9 _ -; key is standard base64 or base64url, padding
//   optional, and must decode to exactly 32 bytes (`openssl rand -base64 32` makes one).
// - "primary=<id>" (at most once) names the key new values are encrypted with. Without it the
//   first key is the primary, so an operator who rotates by hand can put the new key first.
// - Ids must be unique. Old keys stay in the list until nothing is encrypted with them.

import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { fromBase64url } from './base64url.ts';
import { KeyConfigError } from './errors.ts';

const KEY_BYTES = 32;
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

// Key material lives here rather than on the Keyring object, so logging, inspecting or
// JSON-serialising a keyring can never print a key.
const material = new WeakMap<Keyring, ReadonlyMap<string, KeyObject>>();

/** A set of AES-256 data keys by id, one of them the primary used for new encryption. */
export class Keyring {
  readonly primaryId: string;
  readonly ids: readonly string[];
  /** Where the keys came from, for error messages: "key file /path" or "KEYWAY_ENCRYPTION_KEYS". */
  readonly source: string;

  /** Use parseKeyring, keyringFromEnv or loadOrCreateKeyFile rather than this constructor. */
  constructor(keys: ReadonlyArray<{ id: string; key: Uint8Array }>, primaryId: string, source: string) {
    const map = new Map<string, KeyObject>();
    for (const { id, key } of keys) {
      if (!KEY_ID_PATTERN.test(id)) throw new TypeError('invalid key id');
      if (key.length !== KEY_BYTES) throw new TypeError(`key ${id} must be ${KEY_BYTES} bytes`);
      if (map.has(id)) throw new TypeError(`duplicate key id ${id}`);
      map.set(id, createSecretKey(key));
    }
    if (!map.has(primaryId)) throw new TypeError('the primary key id is not in the keyring');
    this.primaryId = primaryId;
    this.ids = Object.freeze([...map.keys()]);
    this.source = source;
    material.set(this, map);
  }

  has(id: string): boolean {
    return this.ids.includes(id);
  }
}

/** The AES key for `id`. For this folder's own modules; not exported from index.ts. */
export function dataKey(keyring: Keyring, id: string): KeyObject | undefined {
  return material.get(keyring)?.get(id);
}

/**
 * Parses the key file / environment variable format above. `source` names where the text came
 * from in error messages. Throws KeyConfigError naming the line; never echoes key material.
 */
export function parseKeyring(text: string, source = 'the keyring text'): Keyring {
  const keys: { id: string; key: Uint8Array; line: number }[] = [];
  let primary: { id: string; line: number } | undefined;
  function fail(line: number, message: string): never {
    throw new KeyConfigError(`${source}, line ${line}: ${message}`);
  }

  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    const trimmed = lines[index]!.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    for (const entry of trimmed.split(/[\s,]+/)) {
      if (entry === '') continue;
      if (entry.startsWith('primary=')) {
        const id = entry.slice('primary='.length);
        if (!KEY_ID_PATTERN.test(id)) fail(line, 'the primary= entry needs a key id of 1-32 letters, digits, "_" or "-"');
        if (primary) fail(line, `a second primary= entry (the first is on line ${primary.line}); name one primary key`);
        primary = { id, line };
        continue;
      }
      const colon = entry.indexOf(':');
      // The entry is not echoed: a mangled entry may well be a key.
      if (colon < 0) fail(line, 'expected "<id>:<base64 of 32 bytes>" or "primary=<id>"');
      const id = entry.slice(0, colon);
      if (!KEY_ID_PATTERN.test(id)) fail(line, 'a key id must be 1-32 letters, digits, "_" or "-" before the ":"');
      const previous = keys.find((k) => k.id === id);
      if (previous) fail(line, `key "${id}" appears twice (also on line ${previous.line}); key ids must be unique`);
      const key = decodeKey(entry.slice(colon + 1));
      if (!key) fail(line, `key "${id}" is not valid base64`);
      if (key.length !== KEY_BYTES) {
        fail(
          line,
          `key "${id}" is ${key.length} bytes, but an encryption key must be exactly ${KEY_BYTES} bytes ` +
            '(44 base64 characters); generate one with: openssl rand -base64 32',
        );
      }
      keys.push({ id, key, line });
    }
  }

  if (keys.length === 0) {
    throw new KeyConfigError(`${source} holds no keys; expected lines like "k1:<base64 of 32 random bytes>"`);
  }
  const primaryId = primary?.id;
  if (primary && !keys.some((k) => k.id === primaryId)) {
    fail(primary.line, `primary=${primary.id} names a key that is not in the list (keys: ${keys.map((k) => k.id).join(', ')})`);
  }
  const keyring = new Keyring(keys, primaryId ?? keys[0]!.id, source);
  for (const k of keys) k.key.fill(0);
  return keyring;
}

/** Reads the KEYWAY_ENCRYPTION_KEYS value (same format as the key file). */
export function keyringFromEnv(value: string, variable = 'KEYWAY_ENCRYPTION_KEYS'): Keyring {
  return parseKeyring(value, variable);
}

function decodeKey(text: string): Uint8Array | undefined {
  // Accept standard base64 (what openssl prints) as well as base64url, padded or not.
  const unpadded = text.replace(/={1,2}$/, '');
  return fromBase64url(unpadded.replace(/\+/g, '-').replace(/\//g, '_'));
}

/** A copy of `keyring` with a fresh random key added as the primary (id k<N+1>). */
export function withNewPrimaryKey(keyring: Keyring): Keyring {
  const numbers = keyring.ids.map((id) => /^k(\d{1,9})$/.exec(id)?.[1]).filter((n) => n !== undefined);
  const id = `k${Math.max(0, ...numbers.map(Number)) + 1}`;
  return new Keyring([...exportKeys(keyring), { id, key: randomBytes(KEY_BYTES) }], id, keyring.source);
}

/** A keyring with one fresh random key, "k1". */
export function newKeyring(source: string): Keyring {
  return new Keyring([{ id: 'k1', key: randomBytes(KEY_BYTES) }], 'k1', source);
}

/** The key file text for `keyring`, in the format documented at the top of this file. */
export function formatKeyFile(keyring: Keyring): string {
  const lines = [
    '# Keyway data encryption keys (AES-256-GCM). Keep this file secret (mode 0600) and backed up:',
    '# values encrypted with a key cannot be read without it. Format: one "<id>:<base64 of 32 bytes>"',
    '# per line; "primary=<id>" picks the key new values are encrypted with. Keep old keys until',
    '# every value has been re-encrypted under the primary.',
    `primary=${keyring.primaryId}`,
    ...exportKeys(keyring).map(({ id, key }) => `${id}:${Buffer.from(key).toString('base64')}`),
  ];
  return lines.join('\n') + '\n';
}

function exportKeys(keyring: Keyring): { id: string; key: Uint8Array }[] {
  return keyring.ids.map((id) => ({ id, key: dataKey(keyring, id)!.export() }));
}
