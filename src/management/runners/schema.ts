// The shapes the runners routes answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';
import { Nullable } from '../../control/schema.ts';

export const RunnerSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  organizationId: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('online'), Type.Literal('offline'), Type.Literal('revoked')]),
  local: Type.Boolean(),
  lastSeenAt: Nullable(Type.String()),
  version: Nullable(Type.String()),
  publicKey: Nullable(Type.String({ description: 'X25519 public key (base64url); seal secrets for this runner to it' })),
  publicKeyFingerprint: Nullable(Type.String()),
  createdAt: Type.String(),
});

export const RunnerList = Type.Object({ runners: Type.Array(RunnerSchema) });
export const CreatedRunner = Type.Object({
  runner: RunnerSchema,
  exchangeToken: Type.String({ description: 'Shown once' }),
  exchangeExpiresAt: Nullable(Type.String()),
  command: Type.String(),
});

/** GET /runners/{id}/repository-cache. */
export const RepositoryCacheUsage = Type.Object({
  bytes: Type.Integer({ description: "bytes the runner's repository caches take on disk (all replicas)" }),
  limitBytes: Type.Integer({ description: 'their limit (KEYWAY_REPOSITORY_CACHE_MB, per replica, added up); 0: the cache is off' }),
  repositories: Type.Integer({ description: 'repositories cached (a repository cached by two replicas counts twice)' }),
  replicas: Type.Integer(),
  updatedAt: Type.Union([Type.Null(), Type.String()]),
});
