// How a runner authenticates as an Entra app without a client secret (issue 19,
// docs/client-credentials.md), as both planes speak of it. Shared by both planes; nothing here is
// ever secret: certificates are public, federated-credential values are what an admin enters in
// Entra ID, and private keys never leave the runner.
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { Nullable } from './schema.ts';

export const CLIENT_CREDENTIAL_TYPES = ['client-secret', 'certificate', 'workload-identity', 'managed-identity'] as const;
export type ClientCredentialType = (typeof CLIENT_CREDENTIAL_TYPES)[number];

/** An integration's Entra app credential (the client secret itself travels sealed, apart). */
export const IntegrationCredential = Type.Object({
  type: Type.Enum(CLIENT_CREDENTIAL_TYPES),
  /** managed-identity: a user-assigned identity's client id; null/absent: the machine's system-assigned identity. */
  managedIdentityClientId: Type.Optional(Nullable(Type.String())),
});
export type IntegrationCredential = Static<typeof IntegrationCredential>;

export const CredentialOwner = Type.Object({
  type: Type.Enum(['integration', 'app-connection'] as const),
  id: Type.String({ minLength: 1 }),
});
export type CredentialOwner = Static<typeof CredentialOwner>;

export const CertificateSummary = Type.Object({
  status: Type.Enum(['active', 'next'] as const),
  certificatePem: Type.String(),
  /** SHA-1, upper-case hex: the thumbprint the Entra admin center shows for an uploaded certificate. */
  thumbprintSha1: Type.String(),
  thumbprintSha256: Type.String(),
  notBefore: Type.String(),
  notAfter: Type.String(),
  createdAt: Type.String(),
  /** When Entra last accepted it; null: not known to work yet (not uploaded, or not tested since). */
  acceptedAt: Nullable(Type.String()),
});
export type CertificateSummary = Static<typeof CertificateSummary>;

/** The managed identity IMDS answers for (add it to the Azure DevOps organization), or why it could not be asked. */
export const ManagedIdentityAnswer = Type.Union([
  Type.Object({ clientId: Nullable(Type.String()), principalId: Nullable(Type.String()), imdsUrl: Type.String() }),
  Type.Object({ error: Type.String(), imdsUrl: Type.String() }),
]);

/** What an admin must see and register in Entra ID for a credential; public values only. */
export const ClientCredentialState = Type.Object({
  type: Type.Enum(CLIENT_CREDENTIAL_TYPES),
  certificates: Type.Optional(Type.Array(CertificateSummary)),
  /** The active certificate expires within the rotation window (a next one exists or is being made). */
  rotationDue: Type.Optional(Type.Boolean()),
  /** The federated credential to add to the app registration (workload identity, or a managed identity trusted by the app). */
  federated: Type.Optional(
    Type.Union([
      Type.Object({ issuer: Type.String(), subject: Type.String(), audience: Type.String(), tokenExpiresAt: Nullable(Type.String()) }),
      Type.Object({ error: Type.String() }),
    ]),
  ),
  managedIdentity: Type.Optional(ManagedIdentityAnswer),
  readAt: Type.String(),
});
export type ClientCredentialState = Static<typeof ClientCredentialState>;

/** Control request kinds. */
export const CLIENT_CREDENTIAL_REQUESTS = {
  /** Describe (and prepare: make the first certificate) an owner's credential. */
  describe: 'client-credentials.describe',
  /** Make the next certificate now (ahead of expiry, or to replace a certificate an admin lost). */
  prepareNext: 'client-credentials.prepare-next',
  /** Queued: the owner is gone or changed method; delete its certificates and keys. */
  delete: 'client-credentials.delete',
} as const;

export const DescribeCredentialPayload = Type.Object({ owner: CredentialOwner, credential: IntegrationCredential });
export type DescribeCredentialPayload = Static<typeof DescribeCredentialPayload>;
