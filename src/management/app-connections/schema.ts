import { Type } from 'typebox';
import type { Static } from 'typebox';
import { sealedFieldDescription } from '../../http/sealed-field.ts';
import { ClientCredentialStateSchema } from '../client-credentials/http.ts';

const Str = (max: number, description?: string) => Type.String({ maxLength: max, ...(description ? { description } : {}) });
const Method = Type.Union(
  [
    Type.Literal('oauth'),
    Type.Literal('access-token'),
    Type.Literal('client-secret'),
    Type.Literal('certificate'),
    Type.Literal('workload-identity'),
    Type.Literal('managed-identity'),
  ],
  {
    description:
      "client-secret, certificate, workload-identity and managed-identity sign in as a service principal; only client-secret needs a secret. certificate: the runner makes a key pair and shows its certificate to upload; workload-identity: the runner presents the federated token its platform writes (AZURE_FEDERATED_TOKEN_FILE); managed-identity: the Azure machine's managed identity (clientId: a user-assigned identity, or none for the system-assigned one)",
  },
);

export const ValidationSchema = Type.Object({
  valid: Type.Boolean(),
  code: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  field: Type.Optional(Type.String()),
  identity: Type.Optional(Type.Object({ id: Type.String(), displayName: Type.Optional(Type.String()) })),
  organizations: Type.Optional(
    Type.Array(Type.String(), { description: 'access-token without organization: organizations the token reaches, to pick from' }),
  ),
  checkedScopes: Type.Optional(Type.Array(Type.String())),
  missingScopes: Type.Optional(Type.Array(Type.String())),
  uncheckedScopes: Type.Optional(
    Type.Array(Type.String(), { description: 'Scopes syncs may need that cannot be checked without side effects' }),
  ),
  credentialState: Type.Optional(ClientCredentialStateSchema),
  testedAt: Type.Optional(Type.String()),
});

const MemberTarget = Type.Object(
  {
    organization: Type.Optional(Str(100, "Azure DevOps organization; default the connection's")),
    project: Type.String({ minLength: 1, maxLength: 200, description: 'Azure DevOps project name' }),
    groupPattern: Type.Optional(
      Type.Union([Type.String({ maxLength: 200 }), Type.Null()], {
        description: 'Variable group names members may target, * for any run of characters; omit for any group of the project',
      }),
    ),
  },
  { additionalProperties: false },
);
const MemberTargets = Type.Union([Type.Array(MemberTarget, { maxItems: 50 }), Type.Null()], {
  description:
    'Where project members may point syncs through this connection. null (the default): only project owners and organization admins create or retarget syncs on it. Owners alone may adopt existing groups.',
});
const MemberTargetView = Type.Object({
  organization: Type.String(),
  project: Type.String(),
  groupPattern: Type.Union([Type.String(), Type.Null()]),
});

export const ConnectionSchema = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  runnerId: Type.String(),
  name: Type.String(),
  method: Method,
  organization: Type.Union([Type.String(), Type.Null()], { description: 'Azure DevOps organization' }),
  tenantId: Type.Union([Type.String(), Type.Null()]),
  clientId: Type.Union([Type.String(), Type.Null()]),
  status: Type.String({
    description:
      'active, invalid (the last test failed) or pending (oauth: never connected; certificate, workload-identity, managed-identity: not working yet — register what credentialState shows, then test)',
  }),
  credentialSet: Type.Boolean({ description: 'Whether the runner holds a credential; credentials are write-only and never returned' }),
  identity: Type.Union([Type.Object({ id: Type.String(), displayName: Type.Optional(Type.String()) }), Type.Null()]),
  organizations: Type.Optional(Type.Array(Type.String())),
  lastTest: Type.Union([ValidationSchema, Type.Null()]),
  authorizeUrl: Type.Optional(
    Type.String({
      description: 'oauth: where the browser (re)connects the connection: GET it in a signed-in browser session, with ?returnTo=/a/path',
    }),
  ),
  memberTargets: Type.Union([Type.Array(MemberTargetView), Type.Null()], {
    description: 'Where project members may point syncs through this connection; null: nowhere (owners only)',
  }),
  credentialState: Type.Optional(ClientCredentialStateSchema),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const credentialFields = {
  organization: Type.Optional(
    Str(100, 'Azure DevOps organization name (dev.azure.com/{organization}); required for client-secret, optional for access-token'),
  ),
  accessToken: Type.Optional(Str(2000, 'access-token: the PAT. Sealed to the runner key at once; never stored here, logged or returned')),
  sealedAccessToken: Type.Optional(Str(6000, sealedFieldDescription('access-token: the PAT', 'app-connection:{id}:secret'))),
  tenantId: Type.Optional(
    Str(100, 'client-secret, certificate, workload-identity and oauth: Directory (tenant) ID; managed-identity: optional'),
  ),
  clientId: Type.Optional(
    Str(
      100,
      "client-secret, certificate, workload-identity: Application (client) ID; managed-identity: a user-assigned identity's client ID, or none for the system-assigned identity",
    ),
  ),
  clientSecret: Type.Optional(
    Str(1000, "client-secret: the secret's Value. Sealed to the runner key at once; never stored here, logged or returned"),
  ),
  sealedClientSecret: Type.Optional(Str(6000, sealedFieldDescription("client-secret: the secret's Value", 'app-connection:{id}:secret'))),
};

export const CreateConnectionBody = Type.Object(
  {
    id: Type.Optional(Str(60, 'Client-chosen id (conn_…), needed when the credential is sealed in the browser')),
    name: Type.String({ minLength: 1, maxLength: 64 }),
    runnerId: Str(100, 'The runner that holds the credential and runs the syncs'),
    method: Method,
    ...credentialFields,
    memberTargets: Type.Optional(MemberTargets),
  },
  { additionalProperties: false },
);

export const UpdateConnectionBody = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), ...credentialFields, memberTargets: Type.Optional(MemberTargets) },
  { additionalProperties: false },
);

export const SaveConnectionResponse = Type.Object({
  connection: ConnectionSchema,
  validation: ValidationSchema,
  authorizeUrl: Type.Optional(
    Type.String({ description: 'oauth: send the browser here (a signed-in session) to sign in at Entra ID and consent' }),
  ),
});

export const ConnectionList = Type.Object({ connections: Type.Array(ConnectionSchema) });

/** PATCH: the connection, and its validation when the change was checked. */
export const UpdateConnectionResponse = Type.Object({ connection: ConnectionSchema, validation: Type.Optional(ValidationSchema) });

export const OAuthConfigurationSchema = Type.Object({
  configured: Type.Boolean(),
  clientId: Type.Union([Type.String(), Type.Null()]),
  redirectUri: Type.String({ description: 'Register exactly this redirect URI (type Web) in the Entra app registration' }),
  problems: Type.Array(Type.String()),
});

export type CreateConnectionInput = Static<typeof CreateConnectionBody>;
export type UpdateConnectionInput = Static<typeof UpdateConnectionBody>;
