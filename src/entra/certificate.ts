// Certificates a runner makes for itself to authenticate to Entra ID as a confidential client
// (docs/client-credentials.md). The key pair is born on the runner; the certificate is self-signed
// (Entra does not check the chain of an app's certificate, only that it is registered on the app)
// and is the only part that ever leaves the runner, for an admin to upload to the app registration.
//
// Node can parse X.509 certificates but not write them, so node-forge (already a dependency, pure
// JavaScript, engines node >= 6.13) writes and signs the one certificate; the key pair comes from
// Node's OpenSSL, and every later signature (each client assertion) is made by Node's WebCrypto.
import { createHash, generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generate = promisify(generateKeyPair);

export interface CertificateInfo {
  /** PEM of the certificate (public). */
  certificatePem: string;
  /** SHA-1 of the DER as upper-case hex: the "Thumbprint" the Entra admin center shows. */
  thumbprintSha1: string;
  /** SHA-256 of the DER as upper-case hex. */
  thumbprintSha256: string;
  /** SHA-256 of the DER, base64url: the `x5t#S256` header of a client assertion. */
  x5tS256: string;
  subject: string;
  notBefore: string;
  notAfter: string;
}

export interface GeneratedCertificate extends CertificateInfo {
  /** PKCS#8 PEM of the private key: secret, encrypted before it is stored, never sent anywhere. */
  privateKeyPem: string;
}

/** What a PEM certificate says about itself. */
export function describeCertificate(certificatePem: string): CertificateInfo {
  const cert = new X509Certificate(certificatePem);
  const der = cert.raw;
  return {
    certificatePem: cert.toString(),
    thumbprintSha1: createHash('sha1').update(der).digest('hex').toUpperCase(),
    thumbprintSha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
    x5tS256: createHash('sha256').update(der).digest('base64url'),
    subject: cert.subject,
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
  };
}

/** The certificate as DER (the `.cer` an admin uploads). */
export function certificateDer(certificatePem: string): Buffer {
  return new X509Certificate(certificatePem).raw;
}

/**
 * A new RSA key pair and a self-signed certificate for it, valid from a minute ago (clock skew)
 * for `validityDays`. RSA 2048 because Entra signs with RSA and client assertions are PS256.
 */
export async function generateClientCertificate(input: {
  commonName: string;
  validityDays: number;
  now?: Date;
}): Promise<GeneratedCertificate> {
  const { privateKey, publicKey } = await generate('rsa', { modulusLength: 2048 });
  const now = input.now ?? new Date();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const serial = randomBytes(16);
  // A positive serial number (RFC 5280 §4.1.2.2): the first byte's high bit clear.
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + input.validityDays * 86_400_000);
  const name = [{ name: 'commonName', value: input.commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  return { ...describeCertificate(certificatePem), privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
