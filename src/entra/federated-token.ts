// The federated token a runner presents for workload identity federation: a JWT its platform
// writes to a file and rotates (AKS workload identity projects the service account token and sets
// AZURE_FEDERATED_TOKEN_FILE). It is read again for every use. The file's location is the runner's
// own configuration, never an admin's input from the management plane: a path an admin could name
// would let them send any file of the runner machine to an issuer of their choice.
// Microsoft: https://learn.microsoft.com/azure/aks/workload-identity-overview
import { readFile } from 'node:fs/promises';
import { decodeJwt } from 'jose';

export const FEDERATED_TOKEN_FILE_VARIABLE = 'AZURE_FEDERATED_TOKEN_FILE';
/** The audience Entra ID expects of a federated token unless the credential says otherwise. */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

export type FederatedTokenProblem = 'not_configured' | 'unreadable' | 'malformed' | 'expired';

export class FederatedTokenError extends Error {
  override readonly name = 'FederatedTokenError';
  constructor(
    readonly problem: FederatedTokenProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface FederatedTokenClaims {
  issuer: string;
  subject: string;
  audiences: string[];
  expiresAt: string | null;
}

export interface FederatedToken {
  token: string;
  claims: FederatedTokenClaims;
}

/** Reads and checks the token at `path` (the runner's AZURE_FEDERATED_TOKEN_FILE). Never puts the token in a message. */
export async function readFederatedToken(path: string | undefined, now: Date = new Date()): Promise<FederatedToken> {
  if (!path) {
    throw new FederatedTokenError(
      'not_configured',
      `this runner has no federated token: set ${FEDERATED_TOKEN_FILE_VARIABLE} on the runner to the file its platform writes the token to (AKS workload identity sets it in pods whose service account is labelled azure.workload.identity/use: "true")`,
    );
  }
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new FederatedTokenError(
      'unreadable',
      `the federated token file ${path} (${FEDERATED_TOKEN_FILE_VARIABLE}) cannot be read by the runner (${code}): check that the file is mounted and readable by the runner's user`,
    );
  }
  let payload: ReturnType<typeof decodeJwt>;
  try {
    payload = decodeJwt(text);
  } catch {
    throw new FederatedTokenError(
      'malformed',
      `the federated token file ${path} does not hold a JWT: it must contain the token its issuer wrote, and nothing else`,
    );
  }
  const audiences = (Array.isArray(payload.aud) ? payload.aud : [payload.aud]).filter((a): a is string => typeof a === 'string');
  const claims: FederatedTokenClaims = {
    issuer: typeof payload.iss === 'string' ? payload.iss : '',
    subject: typeof payload.sub === 'string' ? payload.sub : '',
    audiences,
    expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : null,
  };
  if (!claims.issuer || !claims.subject)
    throw new FederatedTokenError('malformed', `the federated token in ${path} has no issuer (iss) or subject (sub)`);
  if (typeof payload.exp === 'number' && payload.exp * 1000 <= now.getTime()) {
    throw new FederatedTokenError(
      'expired',
      `the federated token in ${path} expired at ${claims.expiresAt}: its issuer has not written a fresh one (the kubelet rotates projected tokens; check the pod and its service account token projection)`,
    );
  }
  return { token: text, claims };
}
