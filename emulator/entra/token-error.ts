/** Thrown by `verifyAccessToken`: what a resource server would conclude about a bearer token. */
export class EntraTokenError extends Error {
  readonly reason: 'expired' | 'invalid' | 'revoked';
  constructor(reason: 'expired' | 'invalid' | 'revoked', message: string) {
    super(message);
    this.name = 'EntraTokenError';
    this.reason = reason;
  }
}
