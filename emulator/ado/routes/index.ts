// Registers the Azure DevOps REST surface of one host, with the service's error and not-found shapes.
import type { FastifyError, FastifyInstance } from 'fastify';
import type { HostKind } from '../auth.ts';
import type { AdoEnv } from '../context.ts';
import { AdoError, adoErrorBody, errors } from '../errors.ts';
import { newGuid } from '../ids.ts';
import { registerConnectionRoutes, registerVsspsLocationRoutes } from './connection.ts';
import { registerProjectRoutes } from './projects.ts';
import { registerPullRequestRoutes } from './pull-requests.ts';
import { registerRepositoryRoutes } from './repositories.ts';
import { registerVariableGroupRoutes } from './variable-groups.ts';
import { registerPatRoutes } from './pats.ts';
import { registerProfileRoutes } from './profile.ts';

/** Organization-scoped REST routes of dev.azure.com (host 'services') or a Server collection ('server'). */
export function registerOrgRestRoutes(app: FastifyInstance, env: AdoEnv, host: 'services' | 'server'): void {
  registerConnectionRoutes(app, env, host);
  registerProjectRoutes(app, env, host);
  registerRepositoryRoutes(app, env, host);
  registerPullRequestRoutes(app, env, host);
  registerVariableGroupRoutes(app, env, host);
}

export function registerVssps(app: FastifyInstance, env: AdoEnv): void {
  registerVsspsLocationRoutes(app);
  registerProfileRoutes(app, env);
  registerPatRoutes(app, env);
}

/** ADO-shaped errors for everything a route throws, and for unknown routes. */
export function installAdoErrorHandling(app: FastifyInstance, host: HostKind): void {
  app.setErrorHandler((err: FastifyError | AdoError | Error, _req, reply) => {
    if (err instanceof AdoError) {
      return reply.code(err.status).headers(err.headers).type('application/json; charset=utf-8').send(err.body());
    }
    const fe = err as FastifyError;
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Body parsing and similar client errors.
      return reply.code(fe.statusCode).type('application/json; charset=utf-8').send(adoErrorBody(fe.message, 'InvalidRequestException'));
    }
    const activity = newGuid();
    if (process.env.KEYWAY_EMULATOR_DEBUG) console.error(`[emulator ${host}] ${activity}`, err);
    return reply.code(500).type('application/json; charset=utf-8').send(errors.internal(activity).body());
  });
  app.setNotFoundHandler((req, reply) => {
    // Unconfirmed: the service's answer for an unknown API route. The emulator names the path so a
    // wrong URL template in Keyway is obvious.
    const path = req.url.split('?')[0];
    return reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send(adoErrorBody(`The resource cannot be found: ${req.method} ${path}`, 'HttpException', 'System.Web.HttpException, System.Web'));
  });
}
