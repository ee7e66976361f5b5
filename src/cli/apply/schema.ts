import { Type } from 'typebox';
import type { Static } from 'typebox';

// The file `keyway apply` reads (keyway.yaml). docs/keyway.schema.json is this schema as JSON, for
// editors (`# yaml-language-server: $schema=…`); a test keeps the two in step.

const Name = (description: string) => Type.String({ minLength: 1, maxLength: 64, description });

export const SecretRef = Type.Union(
  [
    Type.Object(
      {
        env: Type.String({
          minLength: 1,
          maxLength: 200,
          pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
          description: 'Name of an environment variable holding the value',
        }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        file: Type.String({
          minLength: 1,
          maxLength: 4096,
          description: 'Path of a file holding the value (relative to the keyway.yaml); one trailing newline is dropped',
        }),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'Where the secret is: never written in the file itself. Sealed to the runner before it leaves this machine.' },
);

const OAuth = Type.Object(
  {
    clientId: Type.String({ maxLength: 100, description: 'Application (client) ID of the Entra app' }),
    issuerUrl: Type.String({ maxLength: 2048, description: 'https://login.microsoftonline.com/{tenant}/v2.0 (or .../oauth2/v2.0)' }),
    credential: Type.Optional(
      Type.Union(
        [Type.Literal('client-secret'), Type.Literal('certificate'), Type.Literal('workload-identity'), Type.Literal('managed-identity')],
        {
          description:
            "How the runner authenticates as the app (default client-secret). certificate: the runner makes the key pair, upload the certificate it shows; workload-identity: the federated token in the runner's AZURE_FEDERATED_TOKEN_FILE; managed-identity: the machine's managed identity, trusted by the app as a federated credential. Only client-secret takes clientSecret",
        },
      ),
    ),
    clientSecret: Type.Optional(SecretRef),
    managedIdentityClientId: Type.Optional(
      Type.String({
        maxLength: 100,
        description: "managed-identity: a user-assigned identity's client ID (absent: the system-assigned one)",
      }),
    ),
  },
  { additionalProperties: false },
);

const Integration = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 300, description: 'dev.azure.com, or an Azure DevOps Server host' }),
    virtualDirectory: Type.Optional(Type.String({ maxLength: 100, description: 'Azure DevOps Server virtual directory, e.g. /tfs' })),
    oauth: Type.Optional(Type.Union([OAuth, Type.Null()], { description: 'Entra ID OAuth for users; null or absent: off' })),
    pat: Type.Optional(Type.Boolean({ description: 'Users may authorize with Personal Access Tokens (default false)' })),
  },
  { additionalProperties: false },
);

const Runner = Type.Object(
  {
    name: Name('An existing runner (create it under Runners, start it with its exchange token)'),
    integrations: Type.Optional(Type.Array(Integration, { description: "The runner's repository access, one per host" })),
  },
  { additionalProperties: false },
);

const Member = Type.Object(
  { email: Type.String({ minLength: 3, maxLength: 320 }), role: Type.Union([Type.Literal('owner'), Type.Literal('member')]) },
  { additionalProperties: false },
);

const AppConnection = Type.Object(
  {
    name: Name('Unique within the project'),
    runner: Name('The runner that holds the credential and runs the syncs'),
    method: Type.Union(
      [
        Type.Literal('access-token'),
        Type.Literal('client-secret'),
        Type.Literal('oauth'),
        Type.Literal('certificate'),
        Type.Literal('workload-identity'),
        Type.Literal('managed-identity'),
      ],
      {
        description:
          'certificate, workload-identity and managed-identity sign in as a service principal without a secret (docs/client-credentials.md)',
      },
    ),
    organization: Type.Optional(Type.String({ maxLength: 100, description: 'Azure DevOps organization (dev.azure.com/{organization})' })),
    tenantId: Type.Optional(
      Type.String({ maxLength: 100, description: 'client-secret, certificate, workload-identity and oauth: Directory (tenant) ID' }),
    ),
    clientId: Type.Optional(
      Type.String({
        maxLength: 100,
        description:
          "client-secret, certificate, workload-identity: Application (client) ID; managed-identity: a user-assigned identity's client ID (absent: the system-assigned one)",
      }),
    ),
    accessToken: Type.Optional(SecretRef),
    clientSecret: Type.Optional(SecretRef),
  },
  { additionalProperties: false },
);

const Variable = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$' }),
    value: Type.Union([Type.String({ maxLength: 65536, description: 'A plain value, written here' }), SecretRef]),
    secret: Type.Optional(Type.Boolean({ description: 'A secret variable in Azure DevOps (default false)' })),
  },
  { additionalProperties: false },
);

const Sync = Type.Object(
  {
    name: Name('Unique within the project'),
    connection: Name('An app connection of this project, by name'),
    organization: Type.Optional(Type.String({ maxLength: 100, description: "Default: the connection's" })),
    project: Type.String({ minLength: 1, maxLength: 200, description: 'Azure DevOps project name or id' }),
    groupName: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
    scheduleMinutes: Type.Optional(Type.Union([Type.Integer({ minimum: 5, maximum: 10080 }), Type.Null()])),
    enabled: Type.Optional(Type.Boolean({ description: 'Default true' })),
    variables: Type.Array(Variable, { maxItems: 5000 }),
  },
  { additionalProperties: false },
);

const Project = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 80 }),
    members: Type.Optional(Type.Array(Member, { description: 'People added to the project (organization members, by email)' })),
    appConnections: Type.Optional(Type.Array(AppConnection)),
    syncs: Type.Optional(Type.Array(Sync)),
  },
  { additionalProperties: false },
);

export const KeywayFileSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    apiVersion: Type.Literal('keyway/v1'),
    runners: Type.Optional(Type.Array(Runner)),
    projects: Type.Optional(Type.Array(Project)),
  },
  { additionalProperties: false, title: 'Keyway configuration (keyway apply -f keyway.yaml)' },
);

export type SecretRefValue = Static<typeof SecretRef>;
export type KeywayFile = Static<typeof KeywayFileSchema>;
export type RunnerSpec = Static<typeof Runner>;
export type IntegrationSpec = Static<typeof Integration>;
export type ProjectSpec = Static<typeof Project>;
export type AppConnectionSpec = Static<typeof AppConnection>;
export type SyncSpec = Static<typeof Sync>;

/** The JSON Schema document for editors. */
export function keywayFileJsonSchema(): Record<string, unknown> {
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...JSON.parse(JSON.stringify(KeywayFileSchema)) };
}
