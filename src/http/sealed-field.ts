/**
 * The OpenAPI description of a field that carries a value sealed to a runner's key: what it is, the
 * associated data it must be sealed with, and where the format is written down for implementers.
 */
export function sealedFieldDescription(what: string, aad: string): string {
  return (
    `${what}, sealed to the runner's public key (hpke1.…: HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, info "keyway sealing v1"), ` +
    `associated data "${aad}". The format, the fingerprint rule and every use's associated data: docs/sealing.md in the Keyway repository; \`keyway seal\` produces it.`
  );
}
