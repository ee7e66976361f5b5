// The shapes the scm-integrations routes answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';
import { ClientCredentialStateSchema, CredentialType } from '../client-credentials/http.ts';

export const TestResultSchema = Type.Object({
  valid: Type.Boolean(),
  stale: Type.Optional(Type.Boolean({ description: 'The runner key changed after this test: it no longer says anything; test again' })),
  staleReason: Type.Optional(Type.String()),
  hostError: Type.Optional(Type.String()),
  oauthError: Type.Optional(Type.String()),
  redirectUriError: Type.Optional(
    Type.String({
      description:
        'AADSTS50011: the callback URL is not a redirect URI of the app registration; the message names the exact value to register',
    }),
  ),
  patError: Type.Optional(Type.String()),
  scmIdError: Type.Optional(Type.String()),
  serverLayout: Type.Optional(
    Type.Object(
      { virtualDirectory: Type.String(), collection: Type.String() },
      { description: "The host named a collection of an Azure DevOps Server: the server's own virtual directory was saved" },
    ),
  ),
  hostNote: Type.Optional(Type.String()),
  runnerError: Type.Optional(Type.String()),
  credentialNote: Type.Optional(
    Type.String({ description: "About the app's next certificate: accepted by Entra ID (now in use), or still to be uploaded" }),
  ),
  testedAt: Type.String(),
});
export const IntegrationSchema = Type.Object({
  id: Type.String(),
  runnerId: Type.String(),
  scmId: Type.String(),
  host: Type.String(),
  virtualDirectory: Type.String(),
  kind: Type.Union([Type.Literal('services'), Type.Literal('server')]),
  oauth: Type.Union([
    Type.Object({
      clientId: Type.String(),
      issuerUrl: Type.String(),
      clientSecretSet: Type.Boolean({ description: 'Whether a client secret is stored; the secret itself is never returned' }),
      callbackUrl: Type.String({ description: 'Register this redirect URI in the Entra ID app' }),
      credential: CredentialType,
      managedIdentityClientId: Type.Optional(Type.String()),
      credentialState: Type.Optional(ClientCredentialStateSchema),
    }),
    Type.Null(),
  ]),
  pat: Type.Object({ enabled: Type.Boolean() }),
  lastTest: Type.Union([TestResultSchema, Type.Null()]),
  draft: Type.Optional(
    Type.Union([
      Type.Object(
        {
          host: Type.String(),
          virtualDirectory: Type.String(),
          kind: Type.Union([Type.Literal('services'), Type.Literal('server')]),
          oauth: Type.Union([
            Type.Object({
              clientId: Type.String(),
              issuerUrl: Type.String(),
              clientSecretSet: Type.Boolean(),
              credential: CredentialType,
              managedIdentityClientId: Type.Optional(Type.String()),
              credentialState: Type.Optional(ClientCredentialStateSchema),
            }),
            Type.Null(),
          ]),
          pat: Type.Object({ enabled: Type.Boolean() }),
          test: TestResultSchema,
          wouldPurge: Type.Array(Type.String(), { description: "Users' credentials applying it would delete (oauth, pat)" }),
          proposedAt: Type.String(),
        },
        {
          description:
            'A change whose test failed: the configuration above keeps serving; apply it anyway (POST …/draft/apply) or discard it (DELETE …/draft)',
        },
      ),
      Type.Null(),
    ]),
  ),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export const SaveResponse = Type.Object({ integration: IntegrationSchema, test: TestResultSchema });
export const UpdateResponse = Type.Object({
  integration: IntegrationSchema,
  test: TestResultSchema,
  purgedMethods: Type.Array(Type.String()),
  applied: Type.Boolean({
    description: 'false: the test failed and the stored configuration keeps serving; the change is integration.draft',
  }),
  forced: Type.Boolean({ description: 'Applied although its test failed, because the admin said so' }),
});

export const IntegrationList = Type.Object({ integrations: Type.Array(IntegrationSchema) });
