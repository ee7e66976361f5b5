// Identifier and secret helpers shared by the Azure DevOps emulator model. Pure functions.
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

export function newGuid(): string {
  return randomUUID();
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Uniformly random characters from [A-Za-z0-9] (rejection sampling, no modulo bias). */
export function randomAlnum(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= 248) continue; // 248 = 62 * 4: keeps the distribution uniform
      out += ALNUM[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * A personal access token in the current 84-character format: `AZDO` at positions 77–80
 * (Microsoft's Node SDK recognizes PATs by `^.{76}AZDO.{4}$`; docs/azure-devops.md,
 * "Personal Access Tokens").
 */
export function generatePat(): string {
  return randomAlnum(76) + 'AZDO' + randomAlnum(4);
}

const BASE32_LOWER = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A personal access token in the legacy 52-character format: lowercase base32 (`[a-z2-7]`), what
 * Azure DevOps issued before the 84-character format and what Azure DevOps Server still issues.
 */
export function generateLegacyPat(): string {
  let out = '';
  for (const byte of randomBytes(52)) out += BASE32_LOWER[byte & 31];
  return out;
}

export function looksLikePat(value: string): boolean {
  return /^.{76}AZDO.{4}$/.test(value) || /^[a-z2-7]{52}$/.test(value);
}

/** The emulator keeps only this digest of a PAT, as the real service does. */
export function hashSecret(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Graph descriptors look like `aad.<base64 of a GUID string>` (see the refs httpExamples). */
export function makeDescriptor(kind: 'aad' | 'msa' | 'aadsp', seed: string): string {
  return `${kind}.${Buffer.from(seed, 'utf8').toString('base64').replace(/=+$/, '')}`;
}

export function isGuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/** Case-insensitive name comparison, as Azure DevOps compares project and repository names. */
export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
