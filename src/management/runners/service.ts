import { ApiError, badRequest, notFound } from '../../http/errors.ts';
import { publicKeyFingerprint } from '../../crypto/sealing.ts';
import { ONLINE_WINDOW_MS } from '../../control/protocol.ts';
import { generateToken, hashToken, hasPrefix, newId } from '../identity/tokens.ts';
import type { RunnerPrincipal } from '../identity/principal.ts';
import type { RunnerRow, RunnerStore } from './store.ts';

export type RunnerStatus = 'pending' | 'online' | 'offline' | 'revoked';

export interface RunnerView {
  id: string;
  name: string;
  organizationId: string;
  status: RunnerStatus;
  local: boolean;
  lastSeenAt: string | null;
  version: string | null;
  publicKey: string | null;
  publicKeyFingerprint: string | null;
  createdAt: string;
}

const EXCHANGE_TOKEN_HOURS = 24;
const X25519_PUBLIC_KEY = /^[A-Za-z0-9_-]{43}$/;

export function runnerStatus(row: RunnerRow, now: Date): RunnerStatus {
  if (row.revoked_at) return 'revoked';
  if (!row.token_hash) return 'pending';
  if (row.last_seen_at && now.getTime() - Date.parse(row.last_seen_at) <= ONLINE_WINDOW_MS) return 'online';
  return 'offline';
}

export function createRunnerService(store: RunnerStore, options: { now?: () => Date } = {}) {
  const now = options.now ?? (() => new Date());
  const view = (row: RunnerRow): RunnerView => ({
    id: row.id,
    name: row.name,
    organizationId: row.organization_id,
    status: runnerStatus(row, now()),
    local: row.local === 1,
    lastSeenAt: row.last_seen_at,
    version: row.version,
    publicKey: row.public_key,
    publicKeyFingerprint: row.public_key_fingerprint,
    createdAt: row.created_at,
  });

  return {
    view,
    async create(input: { organizationId: string; name: string; createdBy: string | null; local?: boolean }) {
      const name = input.name.trim();
      if (!/^[\w .-]{1,64}$/.test(name))
        throw badRequest('invalid_name', 'runner name: 1–64 letters, digits, spaces, dots, dashes or underscores', 'name');
      const exchangeToken = generateToken('runnerExchange');
      const row: RunnerRow = {
        id: newId('run'),
        organization_id: input.organizationId,
        name,
        local: input.local ? 1 : 0,
        exchange_token_hash: hashToken(exchangeToken),
        exchange_expires_at: new Date(now().getTime() + EXCHANGE_TOKEN_HOURS * 3600_000).toISOString(),
        token_hash: null,
        public_key: null,
        public_key_fingerprint: null,
        version: null,
        last_seen_at: null,
        created_at: now().toISOString(),
        created_by: input.createdBy,
        revoked_at: null,
      };
      await store.insert(row);
      return { runner: view(row), exchangeToken, exchangeExpiresAt: row.exchange_expires_at };
    },

    /** Trades the one-time exchange token and the runner's public key for a long-lived runner token. */
    async exchange(input: { exchangeToken: string; publicKey: string; version: string }) {
      const invalid = () =>
        new ApiError(401, 'invalid_exchange_token', 'the exchange token is unknown, used or revoked; create a new one for this runner');
      if (!hasPrefix(input.exchangeToken, 'runnerExchange')) throw invalid();
      if (!X25519_PUBLIC_KEY.test(input.publicKey))
        throw badRequest('invalid_public_key', 'publicKey must be a raw X25519 public key in base64url (43 characters)', 'publicKey');
      const exchangeHash = hashToken(input.exchangeToken);
      const row = await store.findByExchangeHash(exchangeHash);
      if (!row || row.revoked_at) throw invalid();
      if (row.exchange_expires_at && row.exchange_expires_at < now().toISOString()) {
        throw new ApiError(
          401,
          'exchange_token_expired',
          `the exchange token expired (they last ${EXCHANGE_TOKEN_HOURS} h); create a new one for this runner`,
        );
      }
      const runnerToken = generateToken('runner');
      const ok = await store.completeExchange(row.id, exchangeHash, {
        token_hash: hashToken(runnerToken),
        public_key: input.publicKey,
        public_key_fingerprint: await publicKeyFingerprint(input.publicKey),
        version: input.version.slice(0, 40),
        last_seen_at: now().toISOString(),
      });
      if (!ok) throw invalid();
      return { runnerId: row.id, runnerToken, organizationId: row.organization_id, name: row.name };
    },

    async authenticate(token: string): Promise<RunnerPrincipal | undefined> {
      if (!hasPrefix(token, 'runner')) return undefined;
      const row = await store.findByTokenHash(hashToken(token));
      if (!row) return undefined;
      // A revoked runner's token is kept until it confirms its purge; it opens nothing else.
      return {
        kind: 'runner',
        runnerId: row.id,
        organizationId: row.organization_id,
        name: row.name,
        ...(row.revoked_at ? { revoked: true } : {}),
      };
    },

    async list(organizationId: string) {
      return (await store.list(organizationId)).map(view);
    },

    async get(organizationId: string, id: string) {
      const row = await store.get(id);
      // Another organization's runner is indistinguishable from a missing one.
      if (!row || row.organization_id !== organizationId) throw notFound('runner');
      return row;
    },

    async revoke(organizationId: string, id: string) {
      await this.get(organizationId, id);
      await store.revoke(id, now().toISOString());
    },

    /** After its purge the revoked runner's token opens nothing at all. */
    forgetToken: (id: string) => store.forgetToken(id),
    isRevoked: async (id: string) => Boolean((await store.get(id))?.revoked_at),

    touch: (id: string, version?: string) => store.touch(id, now().toISOString(), version),
    findLocal: () => store.findLocal(),
    setPublicKey: async (id: string, publicKey: string) => {
      if (!X25519_PUBLIC_KEY.test(publicKey))
        throw badRequest('invalid_public_key', 'publicKey must be a raw X25519 public key in base64url (43 characters)', 'publicKey');
      await store.setPublicKey(id, publicKey, await publicKeyFingerprint(publicKey));
    },
  };
}

export type RunnerService = ReturnType<typeof createRunnerService>;
