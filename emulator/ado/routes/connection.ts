// Discovery: connectionData, resource areas and API resource locations (what Microsoft's SDKs read
// before any call: `OPTIONS {org}/_apis/{area}` and `GET {org}/_apis/ResourceAreas`), and the
// unauthenticated `HEAD /{org}` that git's credential manager uses to find the tenant.
import type { FastifyInstance } from 'fastify';
import { authenticate, challengeHeaders, type HostKind, type Principal } from '../auth.ts';
import { bareOrgRoute, orgRoute, params, type AdoEnv } from '../context.ts';
import { newGuid } from '../ids.ts';
import { errors } from '../errors.ts';
import type { Urls } from '../urls.ts';
import type { Organization } from '../world.ts';

interface ResourceLocation {
  id: string;
  area: string;
  resourceName: string;
  routeTemplate: string;
  resourceVersion: number;
  /** Highest released version; '0.0' for resources only in preview. */
  released: string;
}

/** Where the resource areas are listed: the same on every host. */
const RESOURCE_AREAS_LOCATION: ResourceLocation = {
  id: 'e81700f7-3be2-46de-8624-2eb35882fcaa',
  area: 'Location',
  resourceName: 'ResourceAreas',
  routeTemplate: '_apis/{resource}/{areaId}',
  resourceVersion: 1,
  released: '0.0',
};

/** Route templates and resource versions as the service publishes them (ids and versions from azure-devops-node-api 15). */
const LOCATIONS: ResourceLocation[] = [
  RESOURCE_AREAS_LOCATION,
  {
    id: '00d9565f-ed9c-4a06-9a50-00e7896ccab4',
    area: 'Location',
    resourceName: 'ConnectionData',
    routeTemplate: '_apis/{resource}',
    resourceVersion: 1,
    released: '0.0',
  },
  {
    id: '603fe2ac-9723-48b9-88ad-09305aa6c6e1',
    area: 'core',
    resourceName: 'projects',
    routeTemplate: '_apis/{resource}/{*projectId}',
    resourceVersion: 4,
    released: '7.1',
  },
  {
    id: '225f7195-f9c7-4d14-ab28-a83f7ff77e1f',
    area: 'git',
    resourceName: 'repositories',
    routeTemplate: '{project}/_apis/git/{resource}/{repositoryId}',
    resourceVersion: 2,
    released: '7.1',
  },
  {
    id: '2d874a60-a811-4f62-9c9f-963a6ea0a55b',
    area: 'git',
    resourceName: 'refs',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}/{resource}/{*filter}',
    resourceVersion: 2,
    released: '7.1',
  },
  {
    id: 'c2570c3b-5b3f-41b8-98bf-5407bfde8d58',
    area: 'git',
    resourceName: 'commits',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}/{resource}/{commitId}',
    resourceVersion: 2,
    released: '7.1',
  },
  {
    id: 'fb93c0db-47ed-4a31-8c20-47552878fb44',
    area: 'git',
    resourceName: 'items',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}/{resource}/{*path}',
    resourceVersion: 1,
    released: '7.1',
  },
  {
    id: 'ea98d07b-3c87-4971-8ede-a613694ffb55',
    area: 'git',
    resourceName: 'pushes',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}/{resource}/{pushId}',
    resourceVersion: 3,
    released: '7.1',
  },
  {
    id: 'd5b216de-d8d5-4d32-ae76-51df755b16d3',
    area: 'git',
    resourceName: 'stats',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}/{resource}/branches',
    resourceVersion: 2,
    released: '7.1',
  },
  {
    id: '9946fd70-0d40-406e-b686-b4744cbbcc37',
    area: 'git',
    resourceName: 'pullRequests',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}/{resource}/{pullRequestId}',
    resourceVersion: 2,
    released: '7.1',
  },
  {
    id: '01a46dea-7d46-4d40-bc84-319e7c260d99',
    area: 'git',
    resourceName: 'pullRequests',
    routeTemplate: '{project}/_apis/git/{resource}/{pullRequestId}',
    resourceVersion: 1,
    released: '7.1',
  },
  {
    id: 'a5d28130-9cd2-40fa-9f08-902e7daa9efb',
    area: 'git',
    resourceName: 'pullRequests',
    routeTemplate: '{project}/_apis/git/{resource}',
    resourceVersion: 2,
    released: '7.1',
  },
  {
    id: 'f5b09dd5-9d54-45a1-8b5a-1c8287d634cc',
    area: 'distributedtask',
    resourceName: 'variablegroups',
    routeTemplate: '{project}/_apis/distributedtask/{resource}/{groupId}',
    resourceVersion: 2,
    released: '7.1',
  },
  {
    id: 'ef5b7057-ffc3-4c77-bbad-c10b4a4abcc7',
    area: 'distributedtask',
    resourceName: 'variablegroups',
    routeTemplate: '_apis/distributedtask/{resource}/{groupId}',
    resourceVersion: 2,
    released: '7.1',
  },
];

/** What app.vssps.visualstudio.com publishes: the profile service (ProfileApi), and location data. */
const VSSPS_LOCATIONS: ResourceLocation[] = [
  RESOURCE_AREAS_LOCATION,
  {
    id: 'f83735dc-483f-4238-a291-d45f6080a9af',
    area: 'Profile',
    resourceName: 'Profiles',
    routeTemplate: '_apis/profile/{resource}/{id}',
    resourceVersion: 3,
    released: '7.1',
  },
  {
    id: '229a6a53-b428-4ffb-a835-e8f36b5b4b1e',
    area: 'Account',
    resourceName: 'Accounts',
    routeTemplate: '_apis/{resource}',
    resourceVersion: 1,
    released: '7.1',
  },
];

/** Resource areas: id → where its API lives. */
const AREAS: Array<{ id: string; name: string; where: 'org' | 'vssps' | 'vsspsOrg' }> = [
  { id: '79134c72-4a58-4b42-976c-04e7115f32bf', name: 'core', where: 'org' },
  { id: '4e080c62-fa21-4fbc-8fef-2a10a2b38049', name: 'git', where: 'org' },
  { id: 'a85b8835-c1a1-4aac-ae97-1c3d0ba72dbd', name: 'distributedtask', where: 'org' },
  { id: 'e81700f7-3be2-46de-8624-2eb35882fcaa', name: 'Location', where: 'org' },
  { id: '8ccfef3d-2b87-4e99-8ccb-66e343d2daa8', name: 'Profile', where: 'vssps' },
  { id: '0d55247a-1c47-4462-9b1f-5e2125590ee6', name: 'Account', where: 'vssps' },
  { id: '55967393-20ef-45c6-a96c-b5d5d5986a9a', name: 'Tokens', where: 'vsspsOrg' },
];

/**
 * Advertised versions as the service publishes them: maxVersion 7.2 in the cloud (7.1 on an Azure
 * DevOps Server 2022.1), releasedVersion 7.1, so the SDKs send `7.2-preview.N` and the emulator must
 * serve it (VsoClient.autoNegotiateApiVersion negotiates down only to the advertised maximum).
 */
function locationJson(l: ResourceLocation, host: HostKind): Record<string, unknown> {
  return {
    id: l.id,
    area: l.area,
    resourceName: l.resourceName,
    routeTemplate: l.routeTemplate,
    resourceVersion: l.resourceVersion,
    minVersion: '1.0',
    maxVersion: host === 'server' ? '7.1' : '7.2',
    releasedVersion: l.released,
  };
}

/** OPTIONS {host}/_apis[/{area}]: location data, served without authentication (clients read it first). */
export function locationList(locations: ResourceLocation[], host: HostKind, area: string | undefined): { count: number; value: unknown[] } {
  const value = locations.filter((l) => !area || l.area.toLowerCase() === area.toLowerCase()).map((l) => locationJson(l, host));
  return { count: value.length, value };
}

/** app.vssps.visualstudio.com: location data too, so ProfileApi can find its routes. */
export function registerVsspsLocationRoutes(app: FastifyInstance): void {
  app.options('/_apis', async () => locationList(VSSPS_LOCATIONS, 'vssps', undefined));
  app.options('/_apis/:area', async (req) => locationList(VSSPS_LOCATIONS, 'vssps', params(req).area));
}

const DEPLOYMENT_ID = newGuid();
const SERVICE_OWNER = '00025394-6065-48ca-87d9-7f5672854ef7';

function connectionIdentity(principal: Principal): Record<string, unknown> {
  const id = principal.identity;
  const claimsDescriptor =
    id.kind === 'user'
      ? `Microsoft.IdentityModel.Claims.ClaimsIdentity;${id.tenantId}\\${id.upn}`
      : `Microsoft.VisualStudio.Services.Claims.AadServicePrincipal;${id.tenantId}\\${id.clientId}`;
  return {
    id: id.id,
    descriptor: claimsDescriptor,
    subjectDescriptor: id.descriptor,
    providerDisplayName: id.displayName,
    isActive: true,
    properties: { Account: { $type: 'System.String', $value: id.uniqueName } },
    resourceVersion: 2,
    metaTypeId: 0,
  };
}

function areaUrl(urls: Urls, org: Organization, where: 'org' | 'vssps' | 'vsspsOrg'): string {
  if (where === 'vssps') return `${urls.vssps}/`;
  if (where === 'vsspsOrg') return `${urls.vsspsOrgUrl(org)}/`;
  return `${urls.orgUrl(org)}/`;
}

export function registerConnectionRoutes(app: FastifyInstance, env: AdoEnv, host: HostKind): void {
  app.get(
    '/:org/_apis/connectionData',
    orgRoute(env, host, { scope: null, noApiVersion: true }, async (_req, _reply, ctx) => ({
      authenticatedUser: connectionIdentity(ctx.principal),
      authorizedUser: connectionIdentity(ctx.principal),
      instanceId: ctx.org.id,
      deploymentId: DEPLOYMENT_ID,
      deploymentType: host === 'server' ? 'onPremises' : 'hosted',
      locationServiceData: {
        serviceOwner: SERVICE_OWNER,
        defaultAccessMappingMoniker: 'PublicAccessMapping',
        lastChangeId: 1,
        lastChangeId64: 1,
      },
    })),
  );

  if (host === 'server') {
    // The server's own connectionData, under its virtual directory and above every collection
    // (TFS answers `/tfs/_apis/connectionData` as well as `/tfs/{collection}/_apis/connectionData`):
    // there the host answering is the deployment itself, so `instanceId` is the `deploymentId`.
    app.get('/_apis/connectionData', async (req, reply) => {
      const outcome = await authenticate(env, req.headers.authorization, { host });
      if (!outcome.ok)
        return reply
          .code(401)
          .headers(challengeHeaders(env.urls, host, undefined))
          .type('application/json; charset=utf-8')
          .send(errors.anonymous().body());
      return {
        authenticatedUser: connectionIdentity(outcome.principal),
        authorizedUser: connectionIdentity(outcome.principal),
        instanceId: DEPLOYMENT_ID,
        deploymentId: DEPLOYMENT_ID,
        deploymentType: 'onPremises',
        locationServiceData: {
          serviceOwner: SERVICE_OWNER,
          defaultAccessMappingMoniker: 'PublicAccessMapping',
          lastChangeId: 1,
          lastChangeId64: 1,
        },
      };
    });
  }

  // Location data is served without authentication: clients read it before they authenticate.
  const options = async (area: string | undefined): Promise<unknown> => locationList(LOCATIONS, host, area);
  app.options(
    '/:org/_apis',
    bareOrgRoute(env, host, async () => options(undefined)),
  );
  app.options(
    '/:org/_apis/:area',
    bareOrgRoute(env, host, async (req) => options(params(req).area)),
  );

  const resourceAreas = async (org: Organization, areaId?: string): Promise<unknown> => {
    // An Azure DevOps Server answers with no resource areas, which tells the SDKs to stay on the
    // collection URL (WebApi._getResourceAreaUrl).
    if (org.kind === 'server') return { count: 0, value: [] };
    const value = AREAS.filter((a) => !areaId || a.id === areaId.toLowerCase()).map((a) => ({
      id: a.id,
      name: a.name,
      locationUrl: areaUrl(env.urls, org, a.where),
    }));
    return { count: value.length, value };
  };
  app.get(
    '/:org/_apis/ResourceAreas',
    bareOrgRoute(env, host, async (_req, _reply, org) => resourceAreas(org)),
  );
  app.get(
    '/:org/_apis/ResourceAreas/:areaId',
    bareOrgRoute(env, host, async (req, reply, org) => {
      const list = (await resourceAreas(org, params(req).areaId)) as { value: unknown[] };
      return list.value[0] ?? reply.code(404).send();
    }),
  );

  // `HEAD https://dev.azure.com/{org}` without credentials: 401 naming the tenant in
  // X-VSS-ResourceTenant (how git's credential manager discovers the authority).
  app.route({
    method: ['GET', 'HEAD'],
    url: '/:org',
    handler: bareOrgRoute(env, host, async (req, reply, org) => {
      const outcome = await authenticate(env, req.headers.authorization, { host, org });
      if (outcome.ok)
        return reply
          .type('text/html; charset=utf-8')
          .send(`<!DOCTYPE html><html><head><title>${org.name}</title></head><body></body></html>`);
      if (req.method === 'GET' && host !== 'server' && outcome.failure.kind !== 'denied') {
        // A browser is sent to sign in; the redirect target is repeated in X-TFS-FedAuthRedirect.
        const target = env.urls.signInUrl(`${env.urls.orgUrl(org)}/`);
        return reply
          .code(302)
          .header('Location', target)
          .header('X-TFS-FedAuthRedirect', target)
          .header('X-VSS-ResourceTenant', org.tenantId)
          .send();
      }
      return reply
        .code(401)
        .headers(challengeHeaders(env.urls, host, org))
        .send();
    }),
  });
}
