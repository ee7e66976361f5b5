import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HandlerError } from '../agent.ts';
import type { CredentialRecord, CredentialStore } from '../credentials/store.ts';
import type { RunnerEvents } from '../events/outbox.ts';
import { oauthHandlerError } from './flow.ts';
import { refreshToken } from '../../entra/client.ts';
import type { EntraConfiguration } from '../../entra/client.ts';
import { describeEntraFailure, describeTokenFailure as describe, ResponseBodyError } from '../../entra/errors.ts';
import type { OAuthMetadata, OAuthTokenSet } from './flow.ts';
import { runnerMetrics } from '../../telemetry/runner-metrics.ts';
import { retry, sleep as defaultSleep } from '../../http/retry.ts';

/** Bounds the cache of opened secrets; past it the cache starts over (a cold read costs ~1 ms). */
const MAX_OPENED = 20_000;

export interface AccessToken {
  /** How Azure DevOps must receive it: PATs as Basic, Entra tokens as Bearer. Never inferred from the token. */
  kind: 'pat' | 'bearer';
  token: string;
  expiresAt: string | null;
  credentialId: string;
  /** Whether the credential was failing when this token was handed out (a success then clears it). */
  failing?: boolean;
}

export interface TokenServiceOptions {
  credentials: CredentialStore;
  /** The Entra configuration a credential was issued through (its integration's, or the instance app's). */
  configForRecord: (record: CredentialRecord) => Promise<EntraConfiguration>;
  /** Refresh when less than this is left, so a token handed out is good for a git operation. */
  refreshSkewMs?: number;
  /**
   * How long a refresh lease lasts unless its holder renews it (it does, every third of this, while
   * it works): a replica that died holding one delays the others by at most this. Default 10 s.
   */
  leaseTtlMs?: number;
  /** How long a request waits for another replica's refresh before it gives up. Default 2 min. */
  maxWaitMs?: number;
  maxRetries?: number;
  maxRetryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  /** Distinguishes this process's leases from other replicas'. */
  owner?: string;
  /** Where state changes go for the audit log (needs re-authorization, refresh failures, early refreshes). */
  events?: RunnerEvents;
  /**
   * After an early refresh, how long a refused token is taken as "not a token problem" instead of
   * refreshing again: a fresh token that Azure DevOps refuses will not be helped by another one,
   * and a caller that keeps reporting refusals cannot make the runner refresh in a loop. Default 30 s.
   */
  earlyRefreshIntervalMs?: number;
}

/** Every refresh failure's reason starts so: a refresh that works again ends that episode. */
const REFRESH_FAILURE = 'Entra ID could not refresh the token';

/** How long a finished read of a credential row may serve requests that arrive after it. */
const LOOKUP_REUSE_MS = 2;

/** How stale `lastUsedAt` may be: it tells people which authorizations are in use, not when exactly. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Another replica holds a credential row's lease: it is refreshing, wait for its commit. */
const LEASE_HELD = Symbol('lease held');

function sameToken(a: string, b: string): boolean {
  const digest = (t: string) => createHash('sha256').update(t, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

function subjectOf(record: CredentialRecord): { userId: string | null; details: Record<string, string> } {
  return record.subject.type === 'user'
    ? { userId: record.subject.id, details: {} }
    : { userId: null, details: { appConnectionId: record.subject.id } };
}

export class NeedsReauthorizationError extends HandlerError {
  constructor(message: string) {
    super('reauthorization_required', message);
  }
}

/**
 * Hands out a user's current token for an integration, refreshing an Entra access token shortly
 * before it expires. One refresh happens however many ask: concurrent callers in this process
 * share one promise, and replicas sharing the database take a lease on the row (the others wait for
 * the lease holder's result). The rotated refresh token is committed before the new access token
 * is handed out; invalid_grant marks the authorization as needing re-authorization and is never
 * retried; transient failures are retried with backoff that honours Retry-After.
 */
export function createTokenService(options: TokenServiceOptions) {
  const skew = options.refreshSkewMs ?? 5 * 60_000;
  const leaseTtl = options.leaseTtlMs ?? 10_000;
  const maxWait = options.maxWaitMs ?? 120_000;
  const maxRetries = options.maxRetries ?? 3;
  const maxRetryDelay = options.maxRetryDelayMs ?? 30_000;
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? (() => new Date());
  const owner = options.owner ?? `${process.pid}-${randomBytes(6).toString('hex')}`;
  const earlyRefreshInterval = options.earlyRefreshIntervalMs ?? 30_000;
  const inFlight = new Map<string, Promise<AccessToken>>();
  /** Early refreshes in progress, by credential: concurrent reports of one refusal share one. */
  const rejections = new Map<string, Promise<AccessToken | undefined>>();
  type Lookup = { read: Promise<CredentialRecord | undefined>; settledAt?: number };
  const lookups = new Map<string, Lookup>();
  /** Opened secrets by credential id, valid only for the row version they were read at. */
  const opened = new Map<string, { version: number; token: AccessToken }>();
  const { credentials } = options;

  function fresh(meta: OAuthMetadata): boolean {
    return Date.parse(meta.accessTokenExpiresAt) - now().getTime() > skew;
  }

  function report(
    record: CredentialRecord,
    action: 'credential.needs_reauthorization' | 'credential.refresh_failed' | 'credential.refreshed_early' | 'credential.rejected',
    details: Record<string, string | number | boolean>,
  ): void {
    const subject = subjectOf(record);
    options.events?.record({
      action,
      outcome: action === 'credential.refreshed_early' ? 'success' : 'failure',
      userId: subject.userId,
      integrationId: record.integrationId,
      details: { ...subject.details, method: record.method, host: record.host, ...details },
    });
  }

  /** The credential fails: recorded on the row, and said once per episode to the audit log. */
  async function failing(
    record: CredentialRecord,
    reason: string,
    action: 'credential.refresh_failed' | 'credential.rejected',
  ): Promise<void> {
    try {
      if (await credentials.markFailing(record.id, reason)) report(record, action, { reason });
    } catch {
      // Bookkeeping must not turn the caller's answer into another failure.
    }
  }

  async function refresh(
    record: CredentialRecord,
    tokenSet: OAuthTokenSet,
    meta: OAuthMetadata,
  ): Promise<{ tokenSet: OAuthTokenSet; meta: OAuthMetadata }> {
    if (!tokenSet.refresh_token) throw new NeedsReauthorizationError('this authorization has no refresh token; connect again');
    const config = await options.configForRecord(record);
    const refreshTokenValue = tokenSet.refresh_token;
    let res: Awaited<ReturnType<typeof refreshToken>>;
    try {
      // Send the original scope again: Entra otherwise may narrow the token
      // (docs/entra-id.md, "Token responses").
      res = await retry(() => refreshToken(config, refreshTokenValue, { scope: meta.scopes.join(' ') }), {
        attempts: maxRetries + 1,
        // Answers about the credentials themselves are final, whatever their status.
        retryable: (err) => !needsReauthorization(err) && !appCredentialRefused(err) && transient(err),
        backoff: { baseMs: 200, maxMs: maxRetryDelay, jitter: 'equal' },
        retryAfterMs: (err) => {
          const seconds = Number(responseOf(err)?.headers?.get?.('retry-after'));
          return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
        },
        sleep,
      });
    } catch (err) {
      if (needsReauthorization(err)) {
        const message = oauthHandlerError(err, meta.issuer).message;
        runnerMetrics.tokenRefreshes.inc({ outcome: 'reauthorization_required' });
        await credentials.setStatus(record.id, 'needs-reauthorization', { ...meta, reauthorizationReason: message });
        report(record, 'credential.needs_reauthorization', { reason: message.slice(0, 300) });
        throw new NeedsReauthorizationError(`the authorization for ${record.host} must be renewed: ${message}`);
      }
      if (appCredentialRefused(err)) {
        // Not the user's authorization and not transient: the integration's own app credential
        // (its secret, the runner's certificate, a federated token) was refused. Only an admin can fix it.
        runnerMetrics.tokenRefreshes.inc({ outcome: 'unavailable' });
        const reason = `${REFRESH_FAILURE}: Entra ID refused the integration's app credential (${describeEntraFailure(err, { issuerUrl: meta.issuer }).message})`;
        await failing(record, reason, 'credential.refresh_failed');
        throw new HandlerError('app_credential_refused', `${reason}; an admin must fix the integration (its Save & Test says what)`);
      }
      runnerMetrics.tokenRefreshes.inc({ outcome: 'unavailable' });
      const reason = `${REFRESH_FAILURE} right now (${describe(err)})`;
      await failing(record, reason, 'credential.refresh_failed');
      throw new HandlerError('refresh_unavailable', `${reason}; try again shortly`);
    }
    runnerMetrics.tokenRefreshes.inc({ outcome: 'success' });
    return {
      tokenSet: {
        access_token: res.access_token,
        refresh_token: res.refresh_token ?? tokenSet.refresh_token,
        id_token: res.id_token ?? tokenSet.id_token,
      },
      meta: {
        ...meta,
        accessTokenExpiresAt: new Date(now().getTime() + (res.expires_in ?? 3600) * 1000).toISOString(),
        ...(res.scope ? { scopes: res.scope.split(' ').filter(Boolean) } : {}),
      },
    };
  }

  function needsReauthorization(err: unknown): err is ResponseBodyError {
    return (
      err instanceof ResponseBodyError &&
      (err.error === 'invalid_grant' || err.error === 'interaction_required' || err.error === 'consent_required')
    );
  }

  function appCredentialRefused(err: unknown): err is ResponseBodyError {
    return err instanceof ResponseBodyError && err.error === 'invalid_client';
  }

  // openid-client throws ResponseBodyError for OAuth error bodies and an error whose cause is the
  // Response for other unexpected answers (an HTML 503 from a proxy, say).
  function responseOf(err: unknown): Response | undefined {
    const cause = (err as { cause?: unknown }).cause;
    return (err as { response?: Response }).response ?? (cause instanceof Response ? cause : undefined);
  }

  /** 429, 5xx, or no answer at all: worth another try. */
  function transient(err: unknown): boolean {
    const status = (err as { status?: number }).status ?? responseOf(err)?.status;
    const transientStatus = status !== undefined && (status === 429 || status >= 500);
    const network = !(err instanceof ResponseBodyError) && (err as Error)?.name !== 'ClientError' && status === undefined;
    return transientStatus || network;
  }

  async function openPat(record: CredentialRecord): Promise<AccessToken> {
    const secret = await credentials.readSecret(record.id);
    if (secret === undefined) throw new HandlerError('not_authorized', 'the authorization disappeared; provide the token again');
    return { kind: 'pat', token: secret, expiresAt: record.expiresAt, credentialId: record.id };
  }

  function bearer(record: CredentialRecord, tokenSet: OAuthTokenSet, meta: OAuthMetadata): AccessToken {
    return { kind: 'bearer', token: tokenSet.access_token, expiresAt: meta.accessTokenExpiresAt, credentialId: record.id };
  }

  /**
   * Runs `work` (a refresh) holding the row's lease, or answers LEASE_HELD when another replica
   * holds it. Retries with backoff may outlast one TTL: the lease is renewed while `work` runs, so
   * nobody else refreshes with the refresh token this replica is using.
   */
  async function underLease<T>(
    current: { record: CredentialRecord; leaseUntil: string | null },
    work: () => Promise<T>,
  ): Promise<T | typeof LEASE_HELD> {
    const { record } = current;
    const leased = current.leaseUntil && current.leaseUntil > now().toISOString();
    if (leased || !(await credentials.acquireLease(record.id, record.version, owner, leaseTtl))) return LEASE_HELD;
    const renew = setInterval(
      () => void credentials.renewLease(record.id, owner, leaseTtl).catch(() => undefined),
      Math.max(250, Math.floor(leaseTtl / 3)),
    );
    renew.unref();
    try {
      return await work();
    } finally {
      clearInterval(renew);
      await credentials.releaseLease(record.id, owner).catch(() => undefined);
    }
  }

  /** False when the row moved on since it was read (read it again). */
  function commitRefresh(record: CredentialRecord, next: { tokenSet: OAuthTokenSet; meta: OAuthMetadata }, forced: boolean) {
    return credentials.commitRefresh(record.id, owner, record.version, JSON.stringify(next.tokenSet), {
      metadata: { ...next.meta },
      ...(forced ? { forced: true } : {}),
    });
  }

  /** Another replica is refreshing: its commit is awaited, for `maxWait` at most. */
  async function waitForLeaseHolder(deadline: number, record: CredentialRecord): Promise<void> {
    if (Date.now() > deadline)
      throw new HandlerError(
        'refresh_unavailable',
        `another runner replica is refreshing the token for ${record.host} and has not finished; try again`,
      );
    await sleep(50);
  }

  async function obtain(record: CredentialRecord): Promise<AccessToken> {
    const deadline = Date.now() + maxWait;
    for (;;) {
      const current = await credentials.readWithSecret(record.id);
      if (!current) throw new HandlerError('not_authorized', `there is no authorization for ${record.host} any more; connect again`);
      if (current.record.status === 'needs-reauthorization') {
        throw new NeedsReauthorizationError(
          `the authorization for ${record.host} must be renewed: ${(current.record.metadata as Partial<OAuthMetadata>).reauthorizationReason ?? 'connect again'}`,
        );
      }
      const tokenSet = JSON.parse(current.secret) as OAuthTokenSet;
      const meta = current.record.metadata as unknown as OAuthMetadata;
      if (fresh(meta)) return bearer(record, tokenSet, meta);

      const refreshed = await underLease(current, async () => {
        const next = await refresh(current.record, tokenSet, meta);
        // Commit first: the rotated refresh token is safe before anyone uses the new access token.
        if (!(await commitRefresh(current.record, next, false))) return undefined;
        if (current.record.failureReason?.startsWith(REFRESH_FAILURE)) await credentials.markWorking(record.id).catch(() => undefined);
        return bearer(record, next.tokenSet, next.meta);
      });
      if (refreshed === LEASE_HELD) await waitForLeaseHolder(deadline, record);
      else if (refreshed) return refreshed;
    }
  }

  /** The current token of a credential row just read: cached per row version, refreshed when due. */
  function tokenFor(record: CredentialRecord): Promise<AccessToken> {
    // Once a minute at most (as API tokens do): a write per git request would put a row lock
    // on the hot path of every clone and fetch (bench/01, bench/03).
    if (!record.lastUsedAt || Date.parse(record.lastUsedAt) < now().getTime() - LAST_USED_RESOLUTION_MS) {
      void credentials.touchLastUsed(record.id).catch(() => undefined);
    }
    if (record.method === 'pat' && record.expiresAt && record.expiresAt < now().toISOString()) {
      throw new NeedsReauthorizationError(
        `your Personal Access Token for ${record.host} expired on ${record.expiresAt.slice(0, 10)}; create a new one`,
      );
    }
    // The hot path: the row was just read, so an opened secret cached for this exact version is
    // current (a refresh, a replacement or a deletion changes or removes the row). It saves a
    // second read, a decryption and a JSON parse on every git request.
    const cached = opened.get(record.id);
    const meta = record.metadata as Partial<OAuthMetadata>;
    const current =
      cached &&
      cached.version === record.version &&
      record.status === 'active' &&
      (cached.token.kind === 'pat'
        ? cached.token.expiresAt === record.expiresAt
        : cached.token.expiresAt === meta.accessTokenExpiresAt && fresh(meta as OAuthMetadata));
    // Health is not part of the cached token (it changes without a new row version).
    const withHealth = (token: AccessToken): AccessToken => (record.failingSince ? { ...token, failing: true } : token);
    if (cached && current) return Promise.resolve(withHealth(cached.token));
    let pending = inFlight.get(record.id);
    if (!pending) {
      pending = (record.method === 'pat' ? openPat(record) : obtain(record))
        .then(async (token) => {
          // Cache under the version the token belongs to: after a refresh that is the new one.
          const current = await credentials.get(record.id);
          if (opened.size >= MAX_OPENED) opened.clear();
          if (current) opened.set(record.id, { version: current.version, token });
          return token;
        })
        .finally(() => inFlight.delete(record.id));
      inFlight.set(record.id, pending);
    }
    return record.failingSince ? pending.then(withHealth) : pending;
  }

  /**
   * Azure DevOps refused `token` although Keyway took it for valid. A PAT cannot be helped: it is
   * recorded as failing. An Entra token is refreshed once — across replicas, through the same row
   * lease as a scheduled refresh, so however many callers and replicas report one refused token,
   * one refresh happens — unless a fresh token was refused again right after an early refresh.
   * Returns the token to retry with, or undefined when a retry cannot help. A refresh that Entra
   * refuses marks the authorization for re-authorization (and throws, saying so).
   */
  async function rejectedOnce(token: AccessToken, via: 'rest' | 'git'): Promise<AccessToken | undefined> {
    const deadline = Date.now() + maxWait;
    for (let first = true; ; first = false) {
      const current = await credentials.readWithSecret(token.credentialId);
      if (!current) return undefined;
      const record = current.record;
      if (record.method === 'pat' || token.kind === 'pat') {
        await failing(
          record,
          `Azure DevOps refused the Personal Access Token (${via === 'git' ? 'git' : 'REST API'}): it expired, was revoked, or does not cover this organization`,
          'credential.rejected',
        );
        return undefined;
      }
      if (record.status === 'needs-reauthorization') return undefined;
      const tokenSet = JSON.parse(current.secret) as OAuthTokenSet;
      const meta = record.metadata as unknown as OAuthMetadata;
      if (!sameToken(tokenSet.access_token, token.token)) {
        // Refreshed since this token was handed out (by this report's twin, or on schedule).
        return bearer(record, tokenSet, meta);
      }
      if (first && record.forcedRefreshAt && now().getTime() - Date.parse(record.forcedRefreshAt) < earlyRefreshInterval) {
        await failing(
          record,
          'Azure DevOps refused a token refreshed moments ago: the account may have lost access to the organization, or a policy blocks this sign-in',
          'credential.rejected',
        );
        return undefined;
      }
      const refreshed = await underLease(current, async () => {
        const next = await refresh(record, tokenSet, meta);
        if (!(await commitRefresh(record, next, true))) return undefined;
        opened.delete(record.id);
        report(record, 'credential.refreshed_early', { via, recordedExpiry: meta.accessTokenExpiresAt });
        // Entra works again; whether Azure DevOps takes the token, the retry will tell.
        const stillFailing =
          record.failingSince !== null &&
          !(record.failureReason?.startsWith(REFRESH_FAILURE) && (await credentials.markWorking(record.id).catch(() => false)));
        return { ...bearer(record, next.tokenSet, next.meta), ...(stillFailing ? { failing: true } : {}) };
      });
      if (refreshed === LEASE_HELD) await waitForLeaseHolder(deadline, record);
      else if (refreshed) return refreshed;
    }
  }

  return {
    tokenFor,

    /** See rejectedOnce: concurrent reports of one refused token share one answer in this process. */
    rejected(token: AccessToken, via: 'rest' | 'git' = 'rest'): Promise<AccessToken | undefined> {
      const key = `${token.credentialId}\u0000${createHash('sha256').update(token.token, 'utf8').digest('base64url')}`;
      let pending = rejections.get(key);
      if (!pending) {
        pending = rejectedOnce(token, via).finally(() => rejections.delete(key));
        rejections.set(key, pending);
      }
      return pending;
    },

    /** Azure DevOps accepted a token of a credential that was failing: it works again. */
    async succeeded(token: AccessToken): Promise<void> {
      if (!token.failing) return;
      await credentials.markWorking(token.credentialId).catch(() => undefined);
    },

    async getAccessToken(userId: string, integrationId: string): Promise<AccessToken> {
      // Requests that arrive together share one read of the row: a burst of git requests (bench/01:
      // 64 at once) costs one read. A read is shared while in flight and for the rest of the event
      // loop turn it finished in, never longer than LOOKUP_REUSE_MS: no answer rests on an older
      // read. (SQLite reads finish before the next request is parsed, so sharing only what is in
      // flight would share nothing there; the time bound keeps a caller that never yields to the
      // event loop from reusing one read forever.)
      const key = `${userId}\u0000${integrationId}`;
      let entry = lookups.get(key);
      if (!entry || (entry.settledAt !== undefined && Date.now() - entry.settledAt > LOOKUP_REUSE_MS)) {
        const read = credentials.findForIntegration({ type: 'user', id: userId }, integrationId);
        const fresh: Lookup = { read };
        lookups.set(key, fresh);
        const settle = () => {
          fresh.settledAt = Date.now();
          setImmediate(() => lookups.get(key) === fresh && lookups.delete(key));
        };
        read.then(settle, settle);
        entry = fresh;
      }
      const lookup = entry.read;
      const record = await lookup;
      if (!record)
        throw new HandlerError(
          'not_authorized',
          'you have not authorized this host yet: connect with OAuth or provide a Personal Access Token',
        );
      return tokenFor(record);
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
