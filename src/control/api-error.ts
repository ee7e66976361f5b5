// What a client of Keyway's HTTP API (the web UI, the command line) makes of an answer that is not
// 2xx: the error shape every route shares, {"error":{"code","message","field"}}. Plain values, no
// imports: the web bundle imports it too.

/** An API answer that was not 2xx; its message is the server's (which never carries a secret). */
export class KeywayApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The input at fault, as a dotted path of the request body (e.g. `oauth.clientId`). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'KeywayApiError';
  }
}
