import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { sealingContext } from '../control/sealing-context.ts';
import { publicKeyFingerprint, seal } from '../crypto/sealing.ts';
import { createApiClient } from './api-client.ts';
import type { ApiClient } from './api-client.ts';
import { UsageError } from './usage-error.ts';

/** What a sealed value is for; each use has its own associated data (docs/sealing.md). */
export const SEAL_USES = ['client-secret', 'pat', 'app-connection', 'sync'] as const;
export type SealUse = (typeof SEAL_USES)[number];

export class SealInputError extends UsageError {}

const ID_PREFIX: Partial<Record<SealUse, string>> = { 'client-secret': 'int', 'app-connection': 'conn' };
const ID_PATTERN: Record<SealUse, RegExp> = {
  'client-secret': /^int_[A-Za-z0-9_-]{8,40}$/,
  pat: /^int_[A-Za-z0-9_-]{8,40}$/,
  'app-connection': /^conn_[A-Za-z0-9_-]{8,40}$/,
  sync: /^sync_[A-Za-z0-9_-]{8,40}$/,
};

/** The associated data binding a value to its record and purpose. */
export function sealingAad(use: SealUse, id: string, userId?: string): string {
  switch (use) {
    case 'client-secret':
      return sealingContext.integrationClientSecret(id);
    case 'pat':
      if (!userId) throw new SealInputError('--for pat needs --user USER_ID: the user the PAT belongs to');
      return sealingContext.userPat(id, userId);
    case 'app-connection':
      return sealingContext.appConnectionSecret(id);
    case 'sync':
      return sealingContext.syncVariables(id);
  }
}

/** A fresh record id for uses whose record the caller creates (`int_…`, `conn_…`). */
export function newRecordId(use: SealUse): string | undefined {
  const prefix = ID_PREFIX[use];
  return prefix ? `${prefix}_${randomBytes(12).toString('base64url')}` : undefined;
}

/** The runner's current public key, as the management plane publishes it. */
export async function runnerPublicKey(api: ApiClient, runnerId: string): Promise<string> {
  const runner = await api.get<{ publicKey: string | null; name: string; status: string }>(
    `/api/v1/runners/${encodeURIComponent(runnerId)}`,
  );
  if (!runner.publicKey)
    throw new SealInputError(
      `runner "${runner.name}" (${runnerId}) has not registered a key yet (${runner.status}): start it with its exchange token first`,
    );
  return runner.publicKey;
}

/** Seals `plaintext` for one use; sync values must be a JSON object of name → string. */
export async function sealFor(publicKey: string, use: SealUse, id: string, plaintext: string, userId?: string): Promise<string> {
  if (!ID_PATTERN[use].test(id))
    throw new SealInputError(
      `--id "${id.slice(0, 60)}" does not look like the id of a ${use === 'pat' ? 'integration' : use} (${ID_PATTERN[use].source})`,
    );
  if (use === 'sync') checkSyncValues(plaintext);
  else if (!plaintext.trim()) throw new SealInputError('the secret is empty: pass it on standard input or with --file');
  return seal(publicKey, plaintext, sealingAad(use, id, userId));
}

function checkSyncValues(text: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input, which holds the values.
    throw new SealInputError('--for sync: the input must be a JSON object of variable name → value, e.g. {"API_KEY":"…"}');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new SealInputError('--for sync: the input must be a JSON object of variable name → value');
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw new SealInputError(`--for sync: the value of "${name.slice(0, 60)}" must be a string`);
  }
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** One trailing newline is what `echo` and editors add; the secret itself never ends in one. */
export function withoutTrailingNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

export interface SealOptions {
  runner?: string;
  for: SealUse;
  id?: string;
  user?: string;
  file?: string;
  publicKey?: string;
  server?: string;
}

export interface SealIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
}

/** `keyway seal`: prints the sealed value on stdout; anything else goes to stderr. */
export async function runSeal(options: SealOptions, io: SealIo): Promise<void> {
  if (!options.publicKey && !options.runner)
    throw new SealInputError('pass --runner ID (the runner the value is for), or --public-key KEY');
  let id = options.id;
  if (!id) {
    id = newRecordId(options.for);
    if (!id)
      throw new SealInputError(`--for ${options.for} needs --id: the ${options.for === 'pat' ? 'integration' : 'sync'} the value is for`);
    io.stderr.write(`id: ${id} (send it as the record's "id" when you create it)\n`);
  }
  const raw = options.file ? await readFile(options.file, 'utf8') : await readAll(io.stdin);
  const plaintext = options.for === 'sync' ? raw : withoutTrailingNewline(raw);
  const publicKey = options.publicKey ?? (await runnerPublicKey(createApiClient({ server: options.server, env: io.env }), options.runner!));
  const sealed = await sealFor(publicKey, options.for, id, plaintext, options.user);
  io.stderr.write(`sealed for runner key ${await publicKeyFingerprint(publicKey)}\n`);
  io.stdout.write(`${sealed}\n`);
}
