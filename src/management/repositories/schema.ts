// The shapes the repositories routes answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';
import { Nullable } from '../../control/schema.ts';
import { HostAuthentication } from '../oauth/schema.ts';

export const Context = Type.Object(
  {
    kind: Type.Union([Type.Literal('services'), Type.Literal('server')]),
    host: Type.String(),
    origin: Type.String(),
    virtualDirectory: Type.Optional(Type.String()),
    organization: Type.String({ description: 'Services: the organization. Server: the collection.' }),
    collection: Type.Optional(Type.String()),
    project: Type.String(),
    repository: Type.String(),
    cloneUrl: Type.String(),
    webUrl: Type.String(),
    ref: Type.Optional(
      Type.Object({
        type: Type.Union([Type.Literal('branch'), Type.Literal('tag'), Type.Literal('commit'), Type.Literal('pullRequest')]),
        name: Type.Optional(Type.String()),
        sha: Type.Optional(Type.String()),
        pullRequestId: Type.Optional(Type.Integer()),
      }),
    ),
    path: Type.Optional(Type.Object({ path: Type.String(), line: Type.Optional(Type.Integer()), lineEnd: Type.Optional(Type.Integer()) })),
  },
  { description: 'The parsed URL (RepositoryContext), with the names Azure DevOps uses' },
);
export const Repository = Type.Object({
  id: Type.String(),
  name: Type.String(),
  project: Type.Object({ id: Type.String(), name: Type.String() }),
  defaultBranch: Nullable(Type.String({ description: 'Short name, e.g. main; null for an empty repository' })),
  webUrl: Type.String(),
  cloneUrl: Type.String(),
});
export const PullRequest = Type.Object({
  id: Type.Integer(),
  title: Type.String(),
  status: Type.String(),
  isDraft: Type.Boolean(),
  sourceRef: Type.String(),
  targetRef: Type.String(),
  mergeRef: Type.String({ description: 'refs/pull/{id}/merge' }),
  mergeStatus: Nullable(Type.String()),
  sourceSha: Nullable(Type.String()),
  targetSha: Nullable(Type.String()),
});
export const Ref = Type.Object({
  type: Type.Union([Type.Literal('branch'), Type.Literal('tag'), Type.Literal('commit'), Type.Literal('pullRequest')]),
  name: Type.String({ description: 'Branch or tag short name, the full commit id, or the merge ref of a pull request' }),
  fullName: Type.Optional(Type.String()),
  sha: Type.Optional(Type.String({ description: 'Absent for the default branch of a plain repository URL' })),
  isDefault: Type.Optional(Type.Boolean()),
  pullRequest: Type.Optional(PullRequest),
});
export const Reason = Type.Union([
  Type.Literal('not_authorized'),
  Type.Literal('reauthorization_required'),
  Type.Literal('not_found'),
  Type.Literal('oauth_blocked'),
  Type.Literal('unavailable'),
]);
export const Authentication = Type.Object(HostAuthentication);

export const ResolvedContext = Type.Object({
  context: Context,
  repository: Repository,
  ref: Nullable(Ref),
  calls: Type.Integer({ description: 'Azure DevOps REST requests the resolution took (0 when answered from the 30 s cache)' }),
  cached: Type.Boolean(),
  integrationId: Type.String(),
  runnerId: Type.String(),
});
export const AccessCheck = Type.Object({
  hasAccess: Type.Boolean(),
  reason: Nullable(Reason),
  errorMessage: Nullable(Type.String()),
  repository: Type.Optional(Repository),
  authentication: Type.Optional(Authentication),
  authorizationUrl: Type.Optional(
    Type.String({
      description: 'With not_authorized and reauthorization_required: CheckAuthenticationForHost for this integration',
    }),
  ),
  context: Context,
  calls: Type.Integer(),
  integrationId: Type.String(),
  runnerId: Type.String(),
});
