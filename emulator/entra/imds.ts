// The Azure Instance Metadata Service's token endpoint, as a VM with managed identities sees it
// (http://169.254.169.254/metadata/identity/oauth2/token): GET with `Metadata: true`, `api-version`,
// `resource`, and optionally `client_id` / `object_id` to pick a user-assigned identity. Answers
// carry numbers as strings, as IMDS does. Served on the login listener under /metadata.
// Microsoft: https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EntraContext } from './context.ts';
import { EntraOAuthError } from './errors.ts';
import { GUID_RE, guid } from './ids.ts';
import { parseClientCredentialsScope } from './scopes.ts';
import { TOKEN_EXCHANGE_AUDIENCE } from './app-credentials.ts';
import { refill } from '../restore.ts';

export interface ManagedIdentity {
  tenantId: string;
  /** The identity's application (client) id: `appid` of its tokens, what Azure DevOps adds as a service principal. */
  clientId: string;
  /** Its service principal object id (`oid`, `sub`): the subject of its token-exchange tokens. */
  principalId: string;
  displayName: string;
}

export interface ManagedIdentitiesState {
  all: Map<string, ManagedIdentity>;
  systemAssigned: string | undefined;
  userAssigned: Set<string>;
}

/** The identities the emulated machine has: at most one system-assigned, any user-assigned. */
export class ManagedIdentities {
  readonly all = new Map<string, ManagedIdentity>();
  private systemAssigned: string | undefined;
  private readonly userAssigned = new Set<string>();
  /** Answers slower than this are what a client sees when IMDS does not answer (tests of timeouts). */
  delayMs = 0;

  exportState(): ManagedIdentitiesState {
    return { all: this.all, systemAssigned: this.systemAssigned, userAssigned: this.userAssigned };
  }

  importState(state: ManagedIdentitiesState): void {
    refill(this.all, state.all);
    this.systemAssigned = state.systemAssigned;
    this.userAssigned.clear();
    for (const id of state.userAssigned) this.userAssigned.add(id);
  }

  create(tenantId: string, input: { displayName?: string; clientId?: string } = {}): ManagedIdentity {
    const clientId = (input.clientId ?? guid()).toLowerCase();
    if (!GUID_RE.test(clientId)) throw new Error(`clientId must be a GUID, got '${clientId}'.`);
    if (this.all.has(clientId)) throw new Error(`Managed identity ${clientId} already exists.`);
    const identity: ManagedIdentity = {
      tenantId: tenantId.toLowerCase(),
      clientId,
      principalId: guid(),
      displayName: input.displayName ?? `identity-${clientId.slice(0, 8)}`,
    };
    this.all.set(clientId, identity);
    return identity;
  }

  /** Assigns an identity to the machine: system-assigned (one) or user-assigned. */
  assign(clientId: string, kind: 'system' | 'user'): void {
    const id = clientId.toLowerCase();
    if (!this.all.has(id)) throw new Error(`Unknown managed identity ${clientId}.`);
    if (kind === 'system') this.systemAssigned = id;
    else this.userAssigned.add(id);
  }

  unassign(clientId: string): void {
    const id = clientId.toLowerCase();
    if (this.systemAssigned === id) this.systemAssigned = undefined;
    this.userAssigned.delete(id);
  }

  /** The identity a request picks: by client_id or object_id, else the system-assigned one. */
  pick(query: { client_id?: string; object_id?: string }): ManagedIdentity | undefined {
    const assigned = [this.systemAssigned, ...this.userAssigned].filter((x): x is string => Boolean(x)).map((id) => this.all.get(id)!);
    if (query.client_id) return assigned.find((i) => i.clientId === query.client_id!.toLowerCase());
    if (query.object_id) return assigned.find((i) => i.principalId === query.object_id!.toLowerCase());
    return this.systemAssigned ? this.all.get(this.systemAssigned) : undefined;
  }
}

function fail(reply: FastifyReply, status: number, error: string, description: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error, error_description: description });
}

export function registerImdsRoutes(app: FastifyInstance, ctx: EntraContext, identities: ManagedIdentities): void {
  app.get('/metadata/identity/oauth2/token', async (req: FastifyRequest, reply) => {
    if (identities.delayMs > 0) await new Promise((r) => setTimeout(r, identities.delayMs));
    // IMDS refuses anything that looks forwarded by a proxy (its SSRF protection) and requires the header.
    if (req.headers['x-forwarded-for'] !== undefined) return fail(reply, 400, 'invalid_request', 'Request contains X-Forwarded-For header');
    if (String(req.headers.metadata ?? '').toLowerCase() !== 'true')
      return fail(reply, 400, 'invalid_request', 'Required metadata header not specified');
    const q = req.query as Record<string, unknown>;
    const one = (name: string): string | undefined => (typeof q[name] === 'string' ? (q[name] as string) : undefined);
    if (!one('api-version')) return fail(reply, 400, 'invalid_request', "Required query variable 'api-version' is missing");
    const resource = one('resource');
    if (!resource) return fail(reply, 400, 'invalid_request', "Required query variable 'resource' is missing");
    const identity = identities.pick({ client_id: one('client_id'), object_id: one('object_id') });
    if (!identity) return fail(reply, 400, 'invalid_request', 'Identity not found');

    const lifetime = ctx.accessTokenLifetime();
    const now = Math.floor(ctx.nowMs() / 1000);
    let token: string;
    if (resource === TOKEN_EXCHANGE_AUDIENCE) {
      // A token for another app's federated identity credential: issuer this tenant's v2 issuer, subject the principal.
      token = await ctx.tokens.exchangeToken({
        origin: ctx.origin(),
        tid: identity.tenantId,
        clientId: identity.clientId,
        principalId: identity.principalId,
        lifetimeSeconds: lifetime,
      });
    } else {
      const tenant = ctx.store.tenants.get(identity.tenantId);
      if (!tenant) return fail(reply, 400, 'invalid_request', 'Identity not found');
      let scope;
      try {
        scope = parseClientCredentialsScope(`${resource.replace(/\/+$/, '')}/.default`, tenant.displayName);
      } catch (err) {
        if (err instanceof EntraOAuthError) return fail(reply, 400, 'invalid_resource', `AADSTS${err.code}: ${err.text}`);
        throw err;
      }
      token = (
        await ctx.tokens.appAccessToken({
          tid: tenant.id,
          clientId: identity.clientId,
          servicePrincipalObjectId: identity.principalId,
          scope,
          lifetimeSeconds: lifetime,
        })
      ).token;
    }
    return reply.type('application/json; charset=utf-8').send({
      access_token: token,
      client_id: identity.clientId,
      expires_in: String(lifetime),
      expires_on: String(now + lifetime),
      ext_expires_in: String(lifetime),
      not_before: String(now),
      resource,
      token_type: 'Bearer',
    });
  });
}
