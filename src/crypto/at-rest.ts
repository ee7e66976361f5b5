// Field encryption at rest: AES-256-GCM under versioned data keys from a Keyring.
//
// Ciphertext format (ASCII, safe in any text column):
//
//   kw1.<keyId>.<base64url(iv, 12 bytes)>.<base64url(ciphertext || 16-byte GCM tag)>
//
// The associated data binds the value to where it is stored, so a ciphertext copied to another
// row, column or table does not open. It is the length-prefixed UTF-8 encoding of
// ["kw1", keyId, table, column, String(rowId)]: each field as a 4-byte big-endian byte length
// followed by its bytes, so no two different contexts encode the same.
//
// IVs are 96 random bits. NIST SP 800-38D §8.3 limits one key to 2^32 random-IV encryptions;
// rotate the primary key (addKey + reencrypt) long before a single key gets near that.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fromBase64url, toBase64url } from './base64url.ts';
import { DecryptionError, KeyConfigError } from './errors.ts';
import { KEY_ID_PATTERN, dataKey, type Keyring } from './keyring.ts';

/** Where a value is stored. A ciphertext opens only with the context it was encrypted for. */
export interface FieldContext {
  table: string;
  column: string;
  /** The row's primary key. 42 and "42" are the same row. */
  rowId: string | number;
}

/** What a store keeps to detect a wrong key at start-up: key id → ciphertext of a constant. */
export type KeyCheck = Record<string, string>;

const VERSION = 'kw1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const LONE_SURROGATE = /\p{Cs}/u;

export function encryptField(keyring: Keyring, plaintext: string, ctx: FieldContext): string {
  return encryptWith(keyring, keyring.primaryId, plaintext, ctx);
}

export function decryptField(keyring: Keyring, ciphertext: string, ctx: FieldContext): string {
  checkContext(ctx);
  const where = describe(ctx);
  const { keyId, iv, body } = parse(ciphertext, where);
  const key = dataKey(keyring, keyId);
  if (!key) {
    throw new DecryptionError(
      'unknown-key',
      `${where} was encrypted with key "${keyId}", which is not among the keys loaded from ${keyring.source} ` +
        `(${keyring.ids.join(', ')}). Add the line "${keyId}:<base64 key>" from your backup of that key to ${keyring.source}.`,
      keyId,
    );
  }
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(keyId, ctx));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    plain = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
  } catch {
    // GCM cannot tell these apart; the key check (verifyKeyCheck) is what catches a wrong key.
    throw new DecryptionError(
      'tampered-or-wrong-context',
      `${where} does not authenticate under key "${keyId}": the value was modified, was copied from another ` +
        `table, column or row, or key "${keyId}" in ${keyring.source} is not the key it was written with.`,
      keyId,
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    throw new DecryptionError('malformed', `${where} decrypted to bytes that are not UTF-8 text.`, keyId);
  } finally {
    plain.fill(0);
  }
}

/** True when `ciphertext` is not under the primary key, so a rotation pass should rewrite it. */
export function needsReencryption(keyring: Keyring, ciphertext: string): boolean {
  return parse(ciphertext, 'the value').keyId !== keyring.primaryId;
}

/**
 * `ciphertext` re-encrypted under the primary key, or the same string when it already is (that
 * fast path does not decrypt). Throws DecryptionError like decryptField.
 */
export function reencrypt(keyring: Keyring, ciphertext: string, ctx: FieldContext): string {
  checkContext(ctx);
  if (parse(ciphertext, describe(ctx)).keyId === keyring.primaryId) return ciphertext;
  return encryptField(keyring, decryptField(keyring, ciphertext, ctx), ctx);
}

const CHECK_PLAINTEXT = 'keyway key check v1';
const checkContextFor = (keyId: string): FieldContext => ({ table: 'keyway', column: 'key_check', rowId: keyId });

/** A KeyCheck with one entry per key in the keyring. */
export function createKeyCheck(keyring: Keyring): KeyCheck {
  const check: KeyCheck = {};
  for (const id of keyring.ids) check[id] = encryptWith(keyring, id, CHECK_PLAINTEXT, checkContextFor(id));
  return check;
}

/**
 * Verifies the keyring against the KeyCheck a database stored (undefined/null/{} for a new
 * database). Throws KeyConfigError when a key has the same id as one the database knows but
 * different bytes, or when the database knows keys and the keyring has none of them.
 *
 * Returns the check to store: the stored entries (kept for keys no longer loaded, so putting back
 * a wrong copy of a retired key is caught too) plus entries for `added`, the keys new to this
 * database. Save `check` when `added` is not empty.
 */
export function verifyKeyCheck(keyring: Keyring, stored: KeyCheck | null | undefined): { check: KeyCheck; added: string[] } {
  const entries = Object.entries(validStoredCheck(stored));
  const known = new Set(entries.map(([id]) => id));
  const common = keyring.ids.filter((id) => known.has(id));
  if (entries.length > 0 && common.length === 0) {
    throw new KeyConfigError(
      `None of the encryption keys loaded from ${keyring.source} (${keyring.ids.join(', ')}) is one this database was ` +
        `written with (${[...known].join(', ')}). Restore those keys from your backup into ${keyring.source}; ` +
        'starting with new keys would leave every encrypted value unreadable.',
    );
  }
  for (const [id, value] of entries) {
    if (!keyring.has(id)) continue;
    let plain: string;
    try {
      plain = decryptField(keyring, value, checkContextFor(id));
    } catch (error) {
      if (error instanceof DecryptionError && error.reason === 'tampered-or-wrong-context') {
        throw new KeyConfigError(
          `The encryption key "${id}" in ${keyring.source} does not match the one this database was written with. ` +
            `Restore the original key "${id}" from your backup; a new key must get a new id, not replace an old one.`,
        );
      }
      throw new KeyConfigError(`The stored key check for key "${id}" is malformed; the database was modified by hand or damaged.`);
    }
    if (plain !== CHECK_PLAINTEXT) {
      throw new KeyConfigError(
        `The stored key check for key "${id}" holds an unexpected value; the database was modified by hand or damaged.`,
      );
    }
  }
  const added = keyring.ids.filter((id) => !known.has(id));
  const check: KeyCheck = Object.fromEntries(entries);
  for (const id of added) check[id] = encryptWith(keyring, id, CHECK_PLAINTEXT, checkContextFor(id));
  return { check, added };
}

function validStoredCheck(stored: KeyCheck | null | undefined): KeyCheck {
  if (stored === null || stored === undefined) return {};
  const valid =
    typeof stored === 'object' &&
    !Array.isArray(stored) &&
    Object.entries(stored).every(([id, value]) => KEY_ID_PATTERN.test(id) && typeof value === 'string');
  if (!valid) {
    throw new KeyConfigError('The stored key check is malformed: expected an object of key id to ciphertext string.');
  }
  return stored;
}

function encryptWith(keyring: Keyring, keyId: string, plaintext: string, ctx: FieldContext): string {
  checkContext(ctx);
  if (typeof plaintext !== 'string') throw new TypeError('plaintext must be a string');
  // TextEncoder would turn a lone surrogate into U+FFFD, so the value would not round-trip.
  if (LONE_SURROGATE.test(plaintext)) throw new TypeError('plaintext is not well-formed Unicode (it has a lone surrogate)');
  const key = dataKey(keyring, keyId);
  if (!key) throw new TypeError(`key "${keyId}" is not in the keyring`);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(keyId, ctx));
  const data = Buffer.from(plaintext, 'utf8');
  const body = Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
  data.fill(0);
  return `${VERSION}.${keyId}.${toBase64url(iv)}.${toBase64url(body)}`;
}

function associatedData(keyId: string, ctx: FieldContext): Buffer {
  const fields = [VERSION, keyId, ctx.table, ctx.column, String(ctx.rowId)].map((f) => Buffer.from(f, 'utf8'));
  const out = Buffer.alloc(fields.reduce((n, f) => n + 4 + f.length, 0));
  let offset = 0;
  for (const f of fields) {
    offset = out.writeUInt32BE(f.length, offset);
    offset += f.copy(out, offset);
  }
  return out;
}

function parse(ciphertext: string, where: string): { keyId: string; iv: Uint8Array; body: Buffer } {
  // Never echo the value: a column that is not encrypted yet holds the plaintext secret.
  const malformed = (what: string): never => {
    throw new DecryptionError('malformed', `${where} is not a Keyway ciphertext: ${what}.`);
  };
  if (typeof ciphertext !== 'string') return malformed(`expected a string, got ${ciphertext === null ? 'null' : typeof ciphertext}`);
  const parts = ciphertext.split('.');
  if (parts[0] !== VERSION) {
    if (/^kw\d+$/.test(parts[0] ?? '')) {
      return malformed(`it uses format "${parts[0]}", which this version of Keyway does not read (expected "${VERSION}")`);
    }
    return malformed(`it does not start with "${VERSION}." (is this column encrypted yet?)`);
  }
  if (parts.length !== 4) return malformed(`it has ${parts.length} dot-separated parts, expected 4: ${VERSION}.<keyId>.<iv>.<ciphertext>`);
  const [, keyId = '', ivText = '', bodyText = ''] = parts;
  if (!KEY_ID_PATTERN.test(keyId)) return malformed('the key id is not 1-32 letters, digits, "_" or "-"');
  const iv = fromBase64url(ivText);
  if (!iv || iv.length !== IV_BYTES) return malformed(`the IV is not base64url of ${IV_BYTES} bytes`);
  const body = fromBase64url(bodyText);
  if (!body) return malformed('the ciphertext part is not base64url');
  if (body.length < TAG_BYTES) return malformed(`the ciphertext part is shorter than the ${TAG_BYTES}-byte authentication tag`);
  return { keyId, iv, body: Buffer.from(body.buffer, body.byteOffset, body.length) };
}

function checkContext(ctx: FieldContext): void {
  if (!ctx || typeof ctx !== 'object') throw new TypeError('a {table, column, rowId} context is required');
  for (const name of ['table', 'column'] as const) {
    if (typeof ctx[name] !== 'string' || ctx[name] === '') throw new TypeError(`context.${name} must be a non-empty string`);
    if (LONE_SURROGATE.test(ctx[name])) throw new TypeError(`context.${name} is not well-formed Unicode`);
  }
  const { rowId } = ctx;
  if (typeof rowId === 'number' ? !Number.isFinite(rowId) : typeof rowId !== 'string' || rowId === '') {
    // An empty id usually means the value was encrypted before the row had its id.
    throw new TypeError('context.rowId must be a non-empty string or a finite number (encrypt once the row id is known)');
  }
  if (typeof rowId === 'string' && LONE_SURROGATE.test(rowId)) throw new TypeError('context.rowId is not well-formed Unicode');
}

function describe(ctx: FieldContext): string {
  return `${ctx.table}.${ctx.column} of row ${String(ctx.rowId)}`;
}
