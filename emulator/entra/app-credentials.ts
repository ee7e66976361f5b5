// Credentials of an app registration other than client secrets: certificates ("Certificates &
// secrets → Certificates", Graph keyCredentials) and federated identity credentials (issuer,
// subject, audiences). What Entra does with them at the token endpoint is in client-assertion.ts.
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { guid } from './ids.ts';

export interface RegisteredCertificate {
  keyId: string;
  displayName: string;
  publicKey: KeyObject;
  /** base64url SHA-1 of the identifying certificate's DER: what `x5t` names. */
  x5t: string;
  /** base64url SHA-256 of the identifying certificate's DER: what `x5t#S256` names. */
  x5tS256: string;
  /** SHA-1 as the portal shows it (upper-case hex). */
  thumbprint: string;
  startDate: number;
  endDate: number;
}

export interface FederatedCredential {
  id: string;
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface CertificateUpload {
  /** PEM (one CERTIFICATE block) or base64 DER: the `.cer`/`.pem` file an admin uploads. */
  certificate: string;
  displayName?: string;
  /** Overrides the certificate's own validity (Graph lets a keyCredential carry its own dates). */
  startDate?: number;
  endDate?: number;
  /**
   * A key credential whose identifier comes from another certificate than its value, as a manifest
   * or Graph edit can produce (customKeyIdentifier and key set separately): the thumbprints of this
   * certificate find it, the uploaded certificate's key verifies.
   */
  identifiedAs?: string;
}

export class CertificateParseError extends Error {}

function parse(text: string): X509Certificate {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('-----BEGIN CERTIFICATE-----')) return new X509Certificate(trimmed);
    return new X509Certificate(Buffer.from(trimmed.replace(/\s+/g, ''), 'base64'));
  } catch {
    throw new CertificateParseError('certificate must be a PEM CERTIFICATE block or base64 DER');
  }
}

export function certificateFromUpload(upload: CertificateUpload): RegisteredCertificate {
  const cert = parse(upload.certificate);
  const identity = upload.identifiedAs ? parse(upload.identifiedAs) : cert;
  const der = identity.raw;
  const sha1 = createHash('sha1').update(der).digest();
  return {
    keyId: guid(),
    displayName: upload.displayName ?? identity.subject.replace(/\n/g, ', '),
    publicKey: cert.publicKey,
    x5t: sha1.toString('base64url'),
    x5tS256: createHash('sha256').update(der).digest('base64url'),
    thumbprint: sha1.toString('hex').toUpperCase(),
    startDate: upload.startDate ?? Date.parse(cert.validFrom),
    endDate: upload.endDate ?? Date.parse(cert.validTo),
  };
}

export interface FederatedCredentialInput {
  name?: string;
  issuer: string;
  subject: string;
  audiences?: string[];
}

/** Entra's default audience for federated credentials. */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

export function federatedCredential(input: FederatedCredentialInput): FederatedCredential {
  if (!input.issuer || !input.subject) throw new Error('a federated credential needs an issuer and a subject');
  return {
    id: guid(),
    name: input.name ?? `fic-${guid().slice(0, 8)}`,
    issuer: input.issuer,
    subject: input.subject,
    audiences: input.audiences ?? [TOKEN_EXCHANGE_AUDIENCE],
  };
}
