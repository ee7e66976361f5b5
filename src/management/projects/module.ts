import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import type { Logger } from '../../logging/logger.ts';
import type { AuditLog } from '../audit/service.ts';
import type { ControlChannel } from '../runners/control.ts';
import type { RunnerService } from '../runners/service.ts';
import { createAppConnectionService } from '../app-connections/service.ts';
import type { AppConnectionService, OAuthAppConfig } from '../app-connections/service.ts';
import { createAppConnectionConsent } from '../app-connections/oauth-consent.ts';
import { appConnectionRoutes } from '../app-connections/routes.ts';
import { createSyncScheduler } from '../syncs/scheduler.ts';
import type { SyncScheduler } from '../syncs/scheduler.ts';
import { createSyncService } from '../syncs/service.ts';
import type { SyncService } from '../syncs/service.ts';
import { syncRoutes } from '../syncs/routes.ts';
import { createProjectService } from './service.ts';
import type { ProjectService } from './service.ts';
import { projectRoutes } from './routes.ts';
import type { UserPrincipal } from '../identity/principal.ts';

export interface ProjectAutomation {
  projects: ProjectService;
  connections: AppConnectionService;
  syncs: SyncService;
  scheduler: SyncScheduler;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Projects, app connections and variable group syncs (tests drive the scheduler through it). */
    projectAutomation: ProjectAutomation;
  }
}

export interface ProjectAutomationDeps {
  db: Kysely<ManagementDB>;
  runners: RunnerService;
  control: ControlChannel;
  audit: Pick<AuditLog, 'record'>;
  publicUrl: () => string;
  entraAuthorityUrl?: string;
  allowInsecureHosts?: boolean;
  /** KEYWAY_AZURE_DEVOPS_CLIENT_ID / _SECRET. */
  azureDevOpsApp?: OAuthAppConfig;
  logger?: Logger;
  /** Scheduler pass interval; default 15 s. */
  syncIntervalMs?: number;
  /** Whether the caller may create projects (the organization's policy: admins, or every member). */
  mayCreateProjects?: (user: UserPrincipal) => Promise<boolean>;
}

/** Projects, their app connections and variable group syncs: services, routes and the sync scheduler. */
export async function registerProjectAutomation(app: FastifyInstance, deps: ProjectAutomationDeps): Promise<ProjectAutomation> {
  const { db, runners, control, audit } = deps;
  const projects = createProjectService({ db });
  const connections = createAppConnectionService({
    db,
    runners,
    control,
    projects,
    publicUrl: deps.publicUrl,
    entraAuthorityUrl: deps.entraAuthorityUrl ?? 'https://login.microsoftonline.com',
    oauthApp: () => deps.azureDevOpsApp ?? {},
    allowInsecureHosts: deps.allowInsecureHosts ?? false,
  });
  const scheduler = createSyncScheduler({
    db,
    control,
    logger: deps.logger,
    intervalMs: deps.syncIntervalMs,
    connection: async (sync) => {
      const row = await connections.forProject(sync.project_id, sync.connection_id);
      return { runnerId: row.runner_id, connection: await connections.toRunner(row) };
    },
  });
  const syncs = createSyncService({ db, control, runners, projects, connections, scheduler });

  await app.register(projectRoutes, { projects, audit, mayCreate: deps.mayCreateProjects ?? (async (user) => user.role === 'admin') });
  const consent = createAppConnectionConsent({ db, control, projects, connections });
  await app.register(appConnectionRoutes, { connections, consent, audit });
  await app.register(syncRoutes, { syncs, audit });

  const automation: ProjectAutomation = { projects, connections, syncs, scheduler };
  app.decorate('projectAutomation', automation);
  app.addHook('onReady', async () => scheduler.start());
  app.addHook('onClose', async () => scheduler.stop());
  return automation;
}
