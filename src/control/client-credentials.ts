// How a runner authenticates as an Entra app without a client secret (issue 19,
// docs/client-credentials.md), as both planes speak of it. Shared by both planes; nothing here is
// ever secret: certificates are public, federated-credential values are what an admin enters in
// Entra ID, and private keys never leave the runner.

export type ClientCredentialType = 'client-secret' | 'certificate' | 'workload-identity' | 'managed-identity';
export const CLIENT_CREDENTIAL_TYPES: readonly ClientCredentialType[] = [
  'client-secret',
  'certificate',
  'workload-identity',
  'managed-identity',
];

/** An integration's Entra app credential (the client secret itself travels sealed, apart). */
export interface IntegrationCredential {
  type: ClientCredentialType;
  /** managed-identity: a user-assigned identity's client id; null/absent: the machine's system-assigned identity. */
  managedIdentityClientId?: string | null;
}

export type CredentialOwner = { type: 'integration' | 'app-connection'; id: string };

export interface CertificateSummary {
  status: 'active' | 'next';
  certificatePem: string;
  /** SHA-1, upper-case hex: the thumbprint the Entra admin center shows for an uploaded certificate. */
  thumbprintSha1: string;
  thumbprintSha256: string;
  notBefore: string;
  notAfter: string;
  createdAt: string;
  /** When Entra last accepted it; null: not known to work yet (not uploaded, or not tested since). */
  acceptedAt: string | null;
}

/** What an admin must see and register in Entra ID for a credential; public values only. */
export interface ClientCredentialState {
  type: ClientCredentialType;
  certificates?: CertificateSummary[];
  /** The active certificate expires within the rotation window (a next one exists or is being made). */
  rotationDue?: boolean;
  /** The federated credential to add to the app registration (workload identity, or a managed identity trusted by the app). */
  federated?: { issuer: string; subject: string; audience: string; tokenExpiresAt: string | null } | { error: string };
  /** The managed identity IMDS answers for (add it to the Azure DevOps organization). */
  managedIdentity?: { clientId: string | null; principalId: string | null; imdsUrl: string } | { error: string; imdsUrl: string };
  readAt: string;
}

/** Control request kinds. */
export const CLIENT_CREDENTIAL_REQUESTS = {
  /** Describe (and prepare: make the first certificate) an owner's credential. */
  describe: 'client-credentials.describe',
  /** Make the next certificate now (ahead of expiry, or to replace a certificate an admin lost). */
  prepareNext: 'client-credentials.prepare-next',
  /** Queued: the owner is gone or changed method; delete its certificates and keys. */
  delete: 'client-credentials.delete',
} as const;

export interface DescribeCredentialPayload {
  owner: CredentialOwner;
  credential: IntegrationCredential;
}
