import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../http/errors.ts';
import { asUser } from '../identity/principal.ts';
import type { ListingKind, ListingQuery, RepositoryService } from './service.ts';
import { AccessCheck, ResolvedContext } from './schema.ts';
import { LISTING_ITEMS } from '../../control/repositories.ts';
import { Nullable } from '../../control/schema.ts';

const Errors = errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504);
const Str = (max: number) => Type.String({ maxLength: max });

const UrlBody = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 8192,
      description: 'Any Azure DevOps repository, branch, tag, commit, pull request or file URL (HTTPS or SSH)',
    }),
    runnerId: Type.Optional(Str(100)),
    integrationId: Type.Optional(Str(100)),
  },
  { additionalProperties: false },
);

const Choice = { integrationId: Type.Optional(Str(100)), host: Type.Optional(Str(300)), runnerId: Type.Optional(Str(100)) };
const Paging = { top: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })), continuationToken: Type.Optional(Str(2000)) };
const Name = (description: string) => Type.String({ minLength: 1, maxLength: 256, description });

function page<T extends Parameters<typeof Type.Array>[0]>(item: T, extra: Parameters<typeof Type.Object>[0] = {}) {
  return Type.Object({
    items: Type.Array(item),
    continuationToken: Nullable(Type.String({ description: 'Pass it back to get the next page; null on the last page' })),
    calls: Type.Integer({ description: 'Azure DevOps REST requests this page took' }),
    integrationId: Type.String(),
    runnerId: Type.String(),
    ...extra,
  });
}

const LISTINGS: { kind: ListingKind; summary: string; query: Parameters<typeof Type.Object>[0]; response: ReturnType<typeof page> }[] = [
  {
    kind: 'organizations',
    summary:
      'ListSCMOrganizations: the organizations your credential reaches (profile and accounts; for a token limited to one organization, the organization recorded with it)',
    query: {},
    response: page(LISTING_ITEMS['organizations'].item, LISTING_ITEMS['organizations'].extra),
  },
  {
    kind: 'projects',
    summary: 'Projects of an organization that hold repositories you can read (derived from the repository list: Code (Read) suffices)',
    query: { organization: Name('Organization (Services) or collection (Server)') },
    response: page(LISTING_ITEMS['projects'].item, LISTING_ITEMS['projects'].extra),
  },
  {
    kind: 'repositories',
    summary: 'Repositories of an organization, or of one project',
    query: { organization: Name('Organization or collection'), project: Type.Optional(Name('Project')) },
    response: page(LISTING_ITEMS['repositories'].item, LISTING_ITEMS['repositories'].extra),
  },
  {
    kind: 'branches',
    summary: "A repository's branches (Azure DevOps's own continuation tokens)",
    query: { organization: Name('Organization or collection'), project: Name('Project'), repository: Name('Repository') },
    response: page(LISTING_ITEMS['branches'].item, LISTING_ITEMS['branches'].extra),
  },
  {
    kind: 'commits',
    summary: "A branch's recent commits, newest first (default branch when none is given)",
    query: {
      organization: Name('Organization or collection'),
      project: Name('Project'),
      repository: Name('Repository'),
      branch: Type.Optional(Name('Branch short name')),
    },
    response: page(LISTING_ITEMS['commits'].item, LISTING_ITEMS['commits'].extra),
  },
  {
    kind: 'pull-requests',
    summary: "A repository's pull requests, newest first",
    query: {
      organization: Name('Organization or collection'),
      project: Name('Project'),
      repository: Name('Repository'),
      status: Type.Optional(
        Type.Union([Type.Literal('active'), Type.Literal('completed'), Type.Literal('abandoned'), Type.Literal('all')], {
          default: 'active',
        }),
      ),
    },
    response: page(LISTING_ITEMS['pull-requests'].item, LISTING_ITEMS['pull-requests'].extra),
  },
];

export async function repositoryRoutes(root: FastifyInstance, deps: { repositories: RepositoryService }): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { repositories } = deps;

  app.post(
    '/api/v1/context/parse',
    {
      schema: {
        tags: ['repositories'],
        summary:
          'ParseContextURL: parse a repository URL and resolve it through Azure DevOps with your credential (canonical names, ids, default branch, ref, pull request)',
        body: UrlBody,
        response: {
          200: ResolvedContext,
          ...Errors,
        },
      },
    },
    async (request) => (await repositories.resolve(asUser(request), request.body)) as never,
  );

  app.post(
    '/api/v1/context/access',
    {
      schema: {
        tags: ['repositories'],
        summary:
          'CheckRepositoryAccess: whether you can read the repository of a URL, and if not, why (not_authorized, reauthorization_required, not_found, oauth_blocked, unavailable)',
        body: UrlBody,
        response: {
          200: AccessCheck,
          ...Errors,
        },
      },
    },
    async (request) => (await repositories.checkAccess(asUser(request), request.body)) as never,
  );

  for (const listing of LISTINGS) {
    app.get(
      `/api/v1/scm/${listing.kind}`,
      {
        schema: {
          tags: ['repositories'],
          summary: listing.summary,
          querystring: Type.Object({ ...Choice, ...listing.query, ...Paging }, { additionalProperties: false }),
          response: { 200: listing.response, ...Errors },
        },
      },
      async (request) => (await repositories.list(asUser(request), listing.kind, request.query as ListingQuery)) as never,
    );
  }
}
