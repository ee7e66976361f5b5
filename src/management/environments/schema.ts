// The shapes the environments routes answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';
import { ResolvedCloneOptionsSchema } from './clone-options.ts';

// Null first: with ajv's type coercion a null would otherwise become "" when a string is tried first.
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([Type.Null(), t]);

export const Progress = Type.Object({
  phase: Type.String({ maxLength: 100, description: "git's phase, e.g. Receiving objects, Resolving deltas, Updating files" }),
  percent: Type.Integer({ minimum: 0, maximum: 100, description: 'within the phase' }),
  phases: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 30, description: 'phases seen so far, in order' }),
});
export const Failure = Type.Object({ code: Type.String({ maxLength: 100 }), message: Type.String({ maxLength: 2000 }) });
export const Checkout = Type.Object({
  commit: Type.String({ maxLength: 64 }),
  description: Type.String({ maxLength: 1000 }),
  branch: Nullable(Type.String({ maxLength: 1000 })),
});
export const EnvironmentSchema = Type.Object({
  id: Type.String(),
  runnerId: Type.String(),
  integrationId: Type.String(),
  contextUrl: Type.String(),
  repository: Type.Object({
    kind: Type.String(),
    host: Type.String(),
    organization: Type.String(),
    project: Type.String(),
    repository: Type.String(),
    webUrl: Type.String(),
  }),
  ref: Nullable(
    Type.Object(
      {
        type: Type.String({ description: 'branch, tag, commit or pullRequest' }),
        name: Type.Optional(Type.String()),
        sha: Type.Optional(Type.String()),
        pullRequestId: Type.Optional(Type.Integer()),
        checkout: Type.Optional(Type.String({ description: 'pull requests: merge or source' })),
      },
      { description: 'null: the default branch' },
    ),
  ),
  status: Type.Union([Type.Literal('cloning'), Type.Literal('ready'), Type.Literal('failed'), Type.Literal('deleting')]),
  progress: Nullable(Progress),
  error: Nullable(Failure),
  workspacePath: Nullable(Type.String({ description: "the clone's directory on the runner" })),
  checkout: Nullable(Checkout),
  diskBytes: Nullable(Type.Integer({ description: "the workspace's size on the runner's disk, as the runner last measured it" })),
  lastUsedAt: Nullable(
    Type.String({
      description:
        "when the environment's git last asked for a credential; the runner removes environments idle for KEYWAY_ENVIRONMENT_IDLE_HOURS",
    }),
  ),
  clone: Type.Object(ResolvedCloneOptionsSchema.properties, {
    description: "how much of the repository it fetched: the request's options, else its integration's defaults",
  }),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const EnvironmentList = Type.Object({ environments: Type.Array(EnvironmentSchema) });
export const EnvironmentDeleting = Type.Object({ status: Type.Literal('deleting'), message: Type.String() });
