// What the API says about credentials without a client secret (docs/client-credentials.md), shared
// by integrations and app connections: the schema of the runner's description, and certificate
// downloads (.cer is DER, what "Upload certificate" in the Entra admin center takes; .pem is text).
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { CertificateSummary } from '../../control/client-credentials.ts';
import { certificateDer } from '../../entra/certificate.ts';

export const CredentialType = Type.Union(
  [Type.Literal('client-secret'), Type.Literal('certificate'), Type.Literal('workload-identity'), Type.Literal('managed-identity')],
  {
    description:
      "How the runner authenticates as the Entra app: client-secret (a secret you enter), certificate (a key pair born on the runner; upload its certificate), workload-identity (a federated token the runner's platform writes to AZURE_FEDERATED_TOKEN_FILE), managed-identity (the Azure machine's managed identity; for an integration, trusted by the app as a federated credential). Only client-secret needs a secret.",
  },
);

const Certificate = Type.Object({
  status: Type.Union([Type.Literal('active'), Type.Literal('next')], {
    description: 'active: the runner signs with it; next: made ahead of expiry, upload it — it is used once Entra ID accepts it',
  }),
  certificatePem: Type.String({ description: 'The certificate (public). The private key never leaves the runner' }),
  thumbprintSha1: Type.String({ description: 'The thumbprint the Entra admin center shows (SHA-1, hex)' }),
  thumbprintSha256: Type.String(),
  notBefore: Type.String(),
  notAfter: Type.String(),
  createdAt: Type.String(),
  acceptedAt: Type.Union([Type.String(), Type.Null()], { description: 'When Entra ID last accepted it; null: not known to work yet' }),
});

export const ClientCredentialStateSchema = Type.Object({
  type: CredentialType,
  certificates: Type.Optional(Type.Array(Certificate)),
  rotationDue: Type.Optional(Type.Boolean({ description: 'The active certificate expires within 30 days: upload the next one' })),
  federated: Type.Optional(
    Type.Union([
      Type.Object(
        {
          issuer: Type.String(),
          subject: Type.String(),
          audience: Type.String(),
          tokenExpiresAt: Type.Union([Type.String(), Type.Null()]),
        },
        {
          description:
            'Enter these as a federated credential of the app registration (Certificates & secrets → Federated credentials → Other issuer)',
        },
      ),
      Type.Object({ error: Type.String() }),
    ]),
  ),
  managedIdentity: Type.Optional(
    Type.Union([
      Type.Object(
        {
          clientId: Type.Union([Type.String(), Type.Null()]),
          principalId: Type.Union([Type.String(), Type.Null()]),
          imdsUrl: Type.String(),
        },
        { description: 'The identity the machine answers for: add it to the Azure DevOps organization' },
      ),
      Type.Object({ error: Type.String(), imdsUrl: Type.String() }),
    ]),
  ),
  readAt: Type.String(),
  stale: Type.Optional(Type.Boolean({ description: 'The runner could not be asked: this is its last answer' })),
  staleReason: Type.Optional(Type.String()),
});

export const CertificateQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('next')], { default: 'active' })),
  format: Type.Optional(
    Type.Union([Type.Literal('cer'), Type.Literal('pem')], {
      default: 'cer',
      description: 'cer: DER, what Upload certificate takes; pem: text',
    }),
  ),
});

/** Sends a certificate as a file download named after its owner and thumbprint. */
export function sendCertificate(
  reply: FastifyReply,
  certificate: CertificateSummary,
  ownerId: string,
  format: 'cer' | 'pem',
): FastifyReply {
  const name = `keyway-${ownerId.replace(/[^A-Za-z0-9_-]/g, '')}-${certificate.thumbprintSha1.slice(0, 8).toLowerCase()}.${format}`;
  reply.header('content-disposition', `attachment; filename="${name}"`);
  reply.header('cache-control', 'no-store');
  if (format === 'pem') return reply.type('application/x-pem-file').send(certificate.certificatePem);
  return reply.type('application/pkix-cert').send(certificateDer(certificate.certificatePem));
}
