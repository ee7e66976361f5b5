// How the runner authenticates as a confidential client to Entra ID, per configured credential
// (docs/client-credentials.md): a client secret (sealed to the runner, opened by the caller), a
// certificate born here (private_key_jwt), a federated token from the runner's platform (workload
// identity federation, AZURE_FEDERATED_TOKEN_FILE), or the machine's managed identity used as an
// app's federated credential. It also answers what an admin must register in Entra for each: the
// certificate to upload, the issuer/subject/audience of the federated credential.
import type { EntraCredential } from '../../entra/client.ts';
import { certificateRefused, describeEntraFailure } from '../../entra/errors.ts';
import type { EntraFailure } from '../../entra/errors.ts';
import { certificateAuth, federatedAuth } from '../../entra/client-auth.ts';
import {
  FEDERATED_TOKEN_FILE_VARIABLE,
  FederatedTokenError,
  readFederatedToken,
  TOKEN_EXCHANGE_AUDIENCE,
} from '../../entra/federated-token.ts';
import type { FederatedTokenClaims } from '../../entra/federated-token.ts';
import { createManagedIdentityClient, ManagedIdentityError } from '../../entra/managed-identity.ts';
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import type { FieldCrypto } from '../keys/field-crypto.ts';
import type { ManagedIdentityClient } from '../../entra/managed-identity.ts';
import { decodeJwt } from 'jose';
import { HandlerError } from '../agent.ts';
import type { RunnerEvents } from '../events/outbox.ts';
import { createCertificateStore } from './certificates.ts';
import type { CertificateOwner, CertificateStore, CertificateView } from './certificates.ts';
import type { ClientCredentialState, ClientCredentialType } from '../../control/client-credentials.ts';

export type { ClientCredentialState, ClientCredentialType };

export interface ClientCredentialRef {
  type: ClientCredentialType;
  owner: CertificateOwner;
  /** client-secret: the opened secret. */
  secret?: string;
  /** managed-identity: a user-assigned identity's client id (none: the system-assigned one). */
  managedIdentityClientId?: string | null;
}

export interface ClientCredentialDeps {
  certificates: CertificateStore;
  managedIdentity: ManagedIdentityClient;
  /** The runner's AZURE_FEDERATED_TOKEN_FILE, read at every use. */
  federatedTokenFile: () => string | undefined;
  events?: RunnerEvents;
  now?: () => Date;
}

const commonName = (owner: CertificateOwner) => `Keyway ${owner.type} ${owner.id}`;

export function createClientCredentials(deps: ClientCredentialDeps) {
  const now = deps.now ?? (() => new Date());
  const { certificates } = deps;

  function report(
    owner: CertificateOwner,
    action: 'client_certificate.next_prepared' | 'client_certificate.promoted',
    details: Record<string, string>,
  ): void {
    deps.events?.record({
      action,
      outcome: 'success',
      integrationId: owner.type === 'integration' ? owner.id : null,
      details: { ...(owner.type === 'app-connection' ? { appConnectionId: owner.id } : {}), ...details },
    });
  }

  /** Makes the next certificate when the active one is due, once; admins see it on the next look. */
  async function rotateAhead(owner: CertificateOwner, active: CertificateView): Promise<void> {
    if (!certificates.dueForRotation(active)) return;
    const before = (await certificates.list(owner)).some((c) => c.status === 'next');
    if (before) return;
    const next = await certificates.prepareNext(owner, commonName(owner));
    report(owner, 'client_certificate.next_prepared', { thumbprint: next.thumbprintSha1, activeExpiresAt: active.notAfter });
  }

  async function federatedToken(ref: ClientCredentialRef): Promise<string> {
    if (ref.type === 'managed-identity')
      return (await deps.managedIdentity.token(TOKEN_EXCHANGE_AUDIENCE, ref.managedIdentityClientId)).accessToken;
    return (await readFederatedToken(deps.federatedTokenFile(), now())).token;
  }

  return {
    certificates,
    close: () => deps.managedIdentity.close(),

    /**
     * The client authentication for `ref`: a secret string (client-secret) or a client assertion
     * method (src/entra/client-auth.ts). `pinned` signs with one certificate (to test the next one before promoting it).
     */
    clientAuth(ref: ClientCredentialRef, pinned?: string): EntraCredential {
      switch (ref.type) {
        case 'client-secret':
          if (!ref.secret) throw new HandlerError('oauth_misconfigured', 'no client secret is stored: enter the client secret again');
          return ref.secret;
        case 'certificate':
          return certificateAuth(async () => {
            const signer = pinned ? await certificates.signerFor(ref.owner, pinned) : await certificates.current(ref.owner);
            if (!signer)
              throw new HandlerError(
                'certificate_missing',
                'this runner holds no certificate for this app: test the configuration (Save & Test) to make one, then upload it to the app registration',
              );
            return signer;
          });
        case 'workload-identity':
        case 'managed-identity':
          return federatedAuth(() => federatedToken(ref));
      }
    },

    /** A successful token request with `ref`: the certificate that signed it is known to work. */
    async succeeded(ref: ClientCredentialRef, certificateId?: string): Promise<void> {
      if (ref.type !== 'certificate') return;
      const id = certificateId ?? (await certificates.current(ref.owner))?.id;
      if (id) await certificates.accepted(id).catch(() => undefined);
    },

    /**
     * Runs `attempt` with the active certificate; when Entra refuses the certificate and a next one
     * exists, once more with the next one, which then becomes active ("used once Entra accepts it").
     */
    async withCertificateFallback<T>(ref: ClientCredentialRef, attempt: (auth: EntraCredential) => Promise<T>): Promise<T> {
      if (ref.type !== 'certificate') return attempt(this.clientAuth(ref));
      const active = await certificates.current(ref.owner);
      try {
        const result = await attempt(this.clientAuth(ref, active?.id));
        if (active) {
          await certificates.accepted(active.id).catch(() => undefined);
          const view = (await certificates.list(ref.owner)).find((c) => c.id === active.id);
          if (view) await rotateAhead(ref.owner, view).catch(() => undefined);
        }
        return result;
      } catch (err) {
        if (!certificateRefused(err)) throw err;
        const next = (await certificates.list(ref.owner)).find((c) => c.status === 'next');
        if (!next) throw err;
        let result: T;
        try {
          result = await attempt(this.clientAuth(ref, next.id));
        } catch {
          throw err;
        }
        await certificates.accepted(next.id).catch(() => undefined);
        if (await certificates.promote(ref.owner, next.id))
          report(ref.owner, 'client_certificate.promoted', { thumbprint: next.thumbprintSha1 });
        return result;
      }
    },

    /**
     * Makes sure the credential has what it needs on this runner (a certificate is made on first
     * use) and describes it for the admin. Never fails: problems are part of the answer.
     */
    async prepare(ref: ClientCredentialRef): Promise<ClientCredentialState> {
      const state: ClientCredentialState = { type: ref.type, readAt: now().toISOString() };
      if (ref.type === 'certificate') {
        const active = await certificates.ensureActive(ref.owner, commonName(ref.owner));
        state.rotationDue = certificates.dueForRotation(active);
        if (state.rotationDue) await rotateAhead(ref.owner, active).catch(() => undefined);
        state.certificates = (await certificates.list(ref.owner)).map(({ id: _id, ...c }) => c);
      }
      if (ref.type === 'workload-identity' || ref.type === 'managed-identity') {
        try {
          const claims =
            ref.type === 'workload-identity'
              ? (await readFederatedToken(deps.federatedTokenFile(), now())).claims
              : await managedIdentityClaims(ref);
          state.federated = {
            issuer: claims.issuer,
            subject: claims.subject,
            audience: claims.audiences[0] ?? TOKEN_EXCHANGE_AUDIENCE,
            tokenExpiresAt: claims.expiresAt,
          };
        } catch (err) {
          state.federated = { error: describeCredentialProblem(err) };
        }
      }
      return state;
    },

    /** An Entra refusal of `ref`'s credential in words, naming the certificate by the thumbprint the admin center shows. */
    async describeRefusal(ref: ClientCredentialRef, err: unknown, issuerUrl: string): Promise<EntraFailure> {
      const problem = credentialProblem(err);
      if (problem) return { error: problem.code, message: problem.message };
      const active = ref.type === 'certificate' ? (await certificates.list(ref.owner)).find((c) => c.status === 'active') : undefined;
      return describeEntraFailure(err, { issuerUrl, ...(active ? { certificateThumbprint: active.thumbprintSha1 } : {}) });
    },

    /** Makes the next certificate now (the admin asked: ahead of expiry, or to replace a lost upload). */
    async prepareNextCertificate(owner: CertificateOwner): Promise<ClientCredentialState> {
      const all = await certificates.list(owner);
      if (!all.some((c) => c.status === 'active'))
        throw new HandlerError(
          'no_certificate',
          'this app has no certificate yet: save the configuration with the certificate credential first',
        );
      if (!all.some((c) => c.status === 'next')) {
        const next = await certificates.prepareNext(owner, commonName(owner));
        report(owner, 'client_certificate.next_prepared', { thumbprint: next.thumbprintSha1, requested: 'admin' });
      }
      return this.prepare({ type: 'certificate', owner });
    },

    /** A managed identity's own token for `resource` (app connections with managed identity). */
    async managedIdentityToken(resource: string, clientId: string | null | undefined) {
      return deps.managedIdentity.token(resource, clientId);
    },

    /** Which identity IMDS answers for, from its token's claims (never the token). */
    async describeManagedIdentity(
      resource: string,
      clientId: string | null | undefined,
    ): Promise<NonNullable<ClientCredentialState['managedIdentity']>> {
      try {
        const claims = decodeJwt((await deps.managedIdentity.token(resource, clientId)).accessToken);
        return {
          clientId: typeof claims.appid === 'string' ? claims.appid : null,
          principalId: typeof claims.oid === 'string' ? claims.oid : null,
          imdsUrl: deps.managedIdentity.baseUrl,
        };
      } catch (err) {
        return { error: describeCredentialProblem(err), imdsUrl: deps.managedIdentity.baseUrl };
      }
    },
  };

  async function managedIdentityClaims(ref: ClientCredentialRef): Promise<FederatedTokenClaims> {
    const claims = decodeJwt((await deps.managedIdentity.token(TOKEN_EXCHANGE_AUDIENCE, ref.managedIdentityClientId)).accessToken);
    const audiences = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).filter((a): a is string => typeof a === 'string');
    return {
      issuer: String(claims.iss ?? ''),
      subject: String(claims.sub ?? ''),
      audiences,
      expiresAt: typeof claims.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : null,
    };
  }
}

/** A runner-side problem with a credential (file, IMDS, certificate) in words; undefined for anything else. */
export function credentialProblem(err: unknown): { code: string; message: string } | undefined {
  if (err instanceof FederatedTokenError) return { code: `federated_token_${err.problem}`, message: err.message };
  if (err instanceof ManagedIdentityError) return { code: err.problem, message: err.message };
  if (err instanceof HandlerError && err.code === 'certificate_missing') return { code: err.code, message: err.message };
  // openid-client wraps what a ClientAuth threw.
  const cause = (err as { cause?: unknown })?.cause;
  return cause && cause !== err ? credentialProblem(cause) : undefined;
}

function describeCredentialProblem(err: unknown): string {
  return credentialProblem(err)?.message ?? `the credential could not be read (${(err as Error)?.name ?? 'error'})`;
}

export type ClientCredentials = ReturnType<typeof createClientCredentials>;

export interface RunnerClientCredentialOptions {
  /** The runner's AZURE_FEDERATED_TOKEN_FILE (default: that environment variable, read at each use). */
  federatedTokenFile?: () => string | undefined;
  /** KEYWAY_IMDS_URL (default http://169.254.169.254). */
  imdsUrl?: string;
  imdsTimeoutMs?: number;
}

/** The client credentials of a runner, over its store and data keys. */
export function createRunnerClientCredentials(
  deps: { db: Kysely<RunnerDB>; crypto: FieldCrypto; events?: RunnerEvents } & RunnerClientCredentialOptions,
): ClientCredentials {
  return createClientCredentials({
    certificates: createCertificateStore({ db: deps.db, crypto: deps.crypto }),
    managedIdentity: createManagedIdentityClient({
      ...(deps.imdsUrl ? { baseUrl: deps.imdsUrl } : {}),
      ...(deps.imdsTimeoutMs ? { timeoutMs: deps.imdsTimeoutMs } : {}),
    }),
    federatedTokenFile: deps.federatedTokenFile ?? (() => process.env[FEDERATED_TOKEN_FILE_VARIABLE] || undefined),
    ...(deps.events ? { events: deps.events } : {}),
  });
}
