// Sealing values for one runner: HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256, AES-256-GCM, with the caller's associated data (record id / purpose).
//
// Browser-safe: imports only @hpke/core and ./base64url.ts, uses WebCrypto, TextEncoder and no
// Buffer. Importable on its own; index.ts re-exports it for Node callers.
//
// Keys: publicKey and privateKey are both base64url (unpadded) of the raw 32-byte X25519 values
// (RFC 7748), as @hpke/core serialises them.
//
// Sealed format:
//
//   hpke1.<fingerprint>.<base64url(enc, 32 bytes)>.<base64url(ciphertext || 16-byte tag)>
//
// <fingerprint> is publicKeyFingerprint(recipient public key), 16 base64url characters. It is
// not authenticated on its own, and does not need to be: HPKE binds the recipient key into the
// key schedule (RFC 9180 §4.1, kem_context = enc || pkR), so an edited fingerprint can only turn a
// good value into a wrong-recipient failure. Its job is to tell "sealed for another key" apart
// from "tampered" in error messages.

import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { fromBase64url, toBase64url } from './base64url.ts';

export interface RunnerKeyPair {
  /** base64url of the raw 32-byte X25519 public key. */
  publicKey: string;
  /** base64url of the raw 32-byte X25519 private key. Secret. */
  privateKey: string;
}

export type UnsealFailure = 'wrong-recipient' | 'tampered-or-wrong-aad' | 'malformed';

/** A sealed value could not be opened. Messages name fingerprints only, never key or plaintext. */
export class UnsealError extends Error {
  override readonly name = 'UnsealError';
  readonly reason: UnsealFailure;

  constructor(reason: UnsealFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

const PREFIX = 'hpke1';
const KEY_BYTES = 32;
const TAG_BYTES = 16;
const FINGERPRINT_CHARS = 16;
// HPKE "info": separates these keys' use from any other protocol that might reuse them.
const INFO = new TextEncoder().encode('keyway sealing v1');
const SEALED = /^hpke1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22,}$/;
const LONE_SURROGATE = /\p{Cs}/u;
// X25519 base point (RFC 7748 §4.1): DH with it yields the public key for a private key.
const BASE_POINT = new Uint8Array(32);
BASE_POINT[0] = 9;

let cachedSuite: CipherSuite | undefined;
function suite(): CipherSuite {
  cachedSuite ??= new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  return cachedSuite;
}

export async function generateRunnerKeyPair(): Promise<RunnerKeyPair> {
  const pair = await suite().kem.generateKeyPair();
  return {
    publicKey: toBase64url(new Uint8Array(await suite().kem.serializePublicKey(pair.publicKey))),
    privateKey: toBase64url(new Uint8Array(await suite().kem.serializePrivateKey(pair.privateKey))),
  };
}

/** The public key that belongs to `privateKey`. */
export async function runnerPublicKey(privateKey: string): Promise<string> {
  return toBase64url(await publicKeyOf(await importPrivateKey(privateKey)));
}

/** Short id of a public key: the first 16 base64url characters of its SHA-256. */
export async function publicKeyFingerprint(publicKey: string): Promise<string> {
  return fingerprintOf(decodeKey(publicKey, 'publicKey'));
}

/** Cheap format check; says nothing about whether the value opens. */
export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && SEALED.test(value);
}

/** Seals `plaintext` for the holder of `publicKey`; `aad` must be given again to open it. */
export async function seal(publicKey: string, plaintext: string, aad: string): Promise<string> {
  checkText(plaintext, 'plaintext');
  checkText(aad, 'aad');
  const fingerprint = await publicKeyFingerprint(publicKey);
  let enc: ArrayBuffer;
  let ct: ArrayBuffer;
  try {
    const recipientPublicKey = await suite().kem.deserializePublicKey(decodeKey(publicKey, 'publicKey'));
    ({ enc, ct } = await suite().seal({ recipientPublicKey, info: INFO }, utf8(plaintext), utf8(aad)));
  } catch {
    // E.g. a low-order point, for which X25519 yields the all-zero secret (RFC 7748 §6.1).
    throw new TypeError(`publicKey ${fingerprint} is not a usable X25519 public key`);
  }
  return `${PREFIX}.${fingerprint}.${toBase64url(new Uint8Array(enc))}.${toBase64url(new Uint8Array(ct))}`;
}

/** Opens a value sealed for the public key belonging to `privateKey`. Throws UnsealError. */
export async function open(privateKey: string, sealed: string, aad: string): Promise<string> {
  checkText(aad, 'aad');
  const recipientKey = await importPrivateKey(privateKey);
  const { fingerprint, enc, ct } = parseSealed(sealed);
  const own = await fingerprintOf(await publicKeyOf(recipientKey));
  if (fingerprint !== own) {
    throw new UnsealError(
      'wrong-recipient',
      `The value was sealed for runner key ${fingerprint}, but this runner's key is ${own}: it was sealed for another ` +
        "runner, or for an earlier key of this one. Register this runner's current public key and have it sealed again.",
    );
  }
  let plain: ArrayBuffer;
  try {
    plain = await suite().open({ recipientKey, enc, info: INFO }, ct, utf8(aad));
  } catch {
    throw new UnsealError(
      'tampered-or-wrong-aad',
      `The value sealed for runner key ${fingerprint} does not authenticate: it was modified, or it belongs to ` +
        'another record or purpose (the associated data differs).',
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    throw new UnsealError('malformed', 'The sealed value opened, but its content is not UTF-8 text.');
  } finally {
    new Uint8Array(plain).fill(0);
  }
}

function parseSealed(sealed: string): { fingerprint: string; enc: Uint8Array; ct: Uint8Array } {
  // Never echo the value: it may be something other than a sealed value, such as a plain secret.
  const malformed = (what: string): never => {
    throw new UnsealError('malformed', `Not a sealed value: ${what}.`);
  };
  if (typeof sealed !== 'string') return malformed('expected a string');
  const parts = sealed.split('.');
  if (parts[0] !== PREFIX) return malformed(`it does not start with "${PREFIX}."`);
  if (parts.length !== 4)
    return malformed(`it has ${parts.length} dot-separated parts, expected 4: ${PREFIX}.<fingerprint>.<enc>.<ciphertext>`);
  const [, fingerprint = '', encText = '', ctText = ''] = parts;
  if (!/^[A-Za-z0-9_-]{16}$/.test(fingerprint)) return malformed('the key fingerprint is not 16 base64url characters');
  const enc = fromBase64url(encText);
  if (!enc || enc.length !== KEY_BYTES) return malformed(`the encapsulated key is not base64url of ${KEY_BYTES} bytes`);
  const ct = fromBase64url(ctText);
  if (!ct) return malformed('the ciphertext part is not base64url');
  if (ct.length < TAG_BYTES) return malformed(`the ciphertext part is shorter than the ${TAG_BYTES}-byte authentication tag`);
  return { fingerprint, enc, ct };
}

async function fingerprintOf(rawPublicKey: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', rawPublicKey));
  return toBase64url(digest).slice(0, FINGERPRINT_CHARS);
}

async function publicKeyOf(privateKey: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  const basePoint = await crypto.subtle.importKey('raw', BASE_POINT, { name: 'X25519' }, false, []);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'X25519', public: basePoint }, privateKey, 256));
}

async function importPrivateKey(privateKey: string): Promise<CryptoKey> {
  try {
    return await suite().kem.deserializePrivateKey(decodeKey(privateKey, 'privateKey'));
  } catch (error) {
    if (error instanceof TypeError) throw error;
    throw new TypeError('privateKey is not a usable X25519 private key');
  }
}

function decodeKey(text: string, name: string): Uint8Array<ArrayBuffer> {
  const raw = typeof text === 'string' ? fromBase64url(text) : undefined;
  if (!raw || raw.length !== KEY_BYTES) throw new TypeError(`${name} must be base64url of ${KEY_BYTES} raw X25519 bytes`);
  return raw;
}

function checkText(value: string, name: string): void {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  // TextEncoder would turn a lone surrogate into U+FFFD, so the value would not round-trip.
  if (LONE_SURROGATE.test(value)) throw new TypeError(`${name} is not well-formed Unicode (it has a lone surrogate)`);
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
