// The shapes the sso routes answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';

export const Provider = Type.Union([Type.Literal('entra'), Type.Literal('oidc')]);

export const ProviderList = Type.Object({
  providers: Type.Array(Type.Object({ id: Provider, name: Type.String(), needsEmail: Type.Boolean() })),
});
export const SsoBegun = Type.Object({ redirectUrl: Type.String() });
export const LinkedIdentityList = Type.Object({
  identities: Type.Array(
    Type.Object({
      id: Type.String(),
      provider: Type.String(),
      issuer: Type.String(),
      tenantId: Type.Union([Type.String(), Type.Null()]),
      email: Type.Union([Type.String(), Type.Null()]),
      createdAt: Type.String(),
      lastSignInAt: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});
