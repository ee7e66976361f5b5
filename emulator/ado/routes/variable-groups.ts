// Distributed task variable groups (distributedTask/7.1/taskAgent.json): list/get under a project,
// add/update/delete at organization level (the 4.1-era project-level forms in the httpExamples work too).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HostKind } from '../auth.ts';
import { list, orgRoute, params, q, requireProject, type AdoEnv, type OrgContext } from '../context.ts';
import { invalidToken } from '../paging.ts';
import { enumValue } from './pull-requests.ts';
import { AdoError, errors } from '../errors.ts';
import { isGuid, sameName } from '../ids.ts';
import { variableGroup } from '../shapes.ts';
import type { Project, VariableGroup, VariableValue } from '../world.ts';

interface Parsed {
  name: string;
  description?: string;
  type?: string;
  variables: Record<string, VariableValue>;
  projects: Array<{ projectId: string; name?: string; description?: string }>;
}

function groupId(raw: string | undefined): number {
  if (!raw || !/^\d+$/.test(raw)) throw errors.badRequest(`The variable group id '${raw ?? ''}' is not valid.`);
  return Number(raw);
}

/** Validates a VariableGroupParameters body. `urlProject` fills in references for project-level URLs. */
function parseBody(ctx: OrgContext, body: unknown, urlProject: Project | null): Parsed {
  if (!body || typeof body !== 'object')
    throw errors.badRequest('Value cannot be null.\r\nParameter name: variableGroupParameters', 'ArgumentNullException');
  const b = body as Record<string, unknown>;
  const name = typeof b.name === 'string' ? b.name.trim() : '';
  if (!name) throw errors.badRequest('Value cannot be null.\r\nParameter name: variableGroup.Name', 'ArgumentNullException');
  const variables: Record<string, VariableValue> = {};
  const rawVars = b.variables;
  if (rawVars !== undefined && rawVars !== null) {
    if (typeof rawVars !== 'object' || Array.isArray(rawVars))
      throw errors.badRequest('variables must be an object of name → {value, isSecret}.');
    for (const [k, v] of Object.entries(rawVars as Record<string, unknown>)) {
      if (!/^[A-Za-z0-9_.-]+$/.test(k))
        throw errors.badRequest(`Variable name '${k}' is not valid: use letters, digits, '.', '_' and '-'.`, 'InvalidRequestException');
      const vv = (v ?? {}) as Record<string, unknown>;
      const value = vv.value === undefined || vv.value === null ? null : String(vv.value);
      variables[k] = { value, isSecret: vv.isSecret === true, isReadOnly: vv.isReadOnly === true };
    }
  }
  const projects: Parsed['projects'] = [];
  const refs = b.variableGroupProjectReferences;
  if (Array.isArray(refs)) {
    for (const r of refs as Array<Record<string, unknown>>) {
      const pr = (r?.projectReference ?? {}) as Record<string, unknown>;
      const key = typeof pr.id === 'string' && isGuid(pr.id) ? pr.id : typeof pr.name === 'string' ? pr.name : '';
      const project = key ? ctx.env.world.findProject(ctx.org, key) : undefined;
      if (!project) throw errors.projectNotFound(key || '(missing projectReference)', isGuid(key));
      const entry: Parsed['projects'][number] = { projectId: project.id };
      if (typeof r.name === 'string') entry.name = r.name;
      if (typeof r.description === 'string') entry.description = r.description;
      projects.push(entry);
    }
  }
  if (projects.length === 0 && urlProject) projects.push({ projectId: urlProject.id });
  if (projects.length === 0) {
    // Unconfirmed wording; the service refuses a group that belongs to no project.
    throw errors.badRequest(
      'Variable group must be associated with at least one project: set variableGroupProjectReferences.',
      'InvalidRequestException',
    );
  }
  const out: Parsed = { name, variables, projects };
  if (typeof b.description === 'string') out.description = b.description;
  if (typeof b.type === 'string') out.type = b.type;
  return out;
}

function nameClash(ctx: OrgContext, parsed: Parsed, exceptId?: number): VariableGroup | undefined {
  return ctx.env.world
    .listVariableGroups(ctx.org)
    .find(
      (vg) =>
        vg.id !== exceptId &&
        sameName(vg.name, parsed.name) &&
        vg.projectRefs.some((r) => parsed.projects.some((p) => p.projectId === r.projectId)),
    );
}

function actionFilter(raw: string | undefined): 'none' | 'manage' | 'use' {
  if (raw === undefined) return 'none';
  const t = raw.trim().toLowerCase();
  if (t === 'none' || t === '0') return 'none';
  if (t === 'manage' || t === '2') return 'manage';
  if (t === 'use' || t === '16') return 'use';
  throw errors.badRequest(`'${raw}' is not a valid value for actionFilter (None, Manage or Use).`, 'InvalidArgumentValueException');
}

/**
 * Writing a group needs the Administrator role on it. Unconfirmed status and wording; the service
 * refuses such writes with a permission error naming the group.
 */
function requireManage(ctx: OrgContext, vg: VariableGroup): void {
  if (ctx.env.world.variableGroupRole(vg, ctx.principal.identity.id) !== 'Administrator') {
    throw new AdoError(
      403,
      `VS402360: You do not have permission to manage variable group ${vg.name} (${vg.id}): the Administrator role on it is required.`,
      'AccessDeniedException',
    );
  }
}

function wildcard(pattern: string): RegExp {
  return new RegExp(
    '^' +
      pattern
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
    'i',
  );
}

function urlProject(ctx: OrgContext, req: FastifyRequest): Project | null {
  const p = params(req).project;
  return p ? requireProject(ctx, p) : null;
}

export function registerVariableGroupRoutes(app: FastifyInstance, env: AdoEnv, host: HostKind): void {
  app.get(
    '/:org/:project/_apis/distributedtask/variablegroups',
    orgRoute(env, host, { scope: 'vso.variablegroups_read' }, async (req, reply, ctx) => {
      const project = requireProject(ctx, params(req).project!);
      let groups = ctx.env.world.listVariableGroups(ctx.org, project);
      const ids = q(req, 'groupIds');
      if (ids) {
        const wanted = new Set(
          decodeURIComponent(ids)
            .split(',')
            .map((s) => {
              if (!/^\s*\d+\s*$/.test(s))
                throw errors.badRequest(`'${s}' in groupIds is not a variable group id.`, 'InvalidArgumentValueException');
              return Number(s);
            }),
        );
        groups = groups.filter((g) => wanted.has(g.id));
      }
      const name = q(req, 'groupName');
      if (name) groups = groups.filter((g) => wildcard(name).test(g.name));
      // actionFilter (VariableGroupActionFilter, a flags enum: none 0, manage 2, use 16): only the
      // groups the caller may use (User or Administrator) or manage (Administrator).
      const action = actionFilter(q(req, 'actionFilter'));
      const me = ctx.principal.identity.id;
      if (action === 'manage') groups = groups.filter((g) => ctx.env.world.variableGroupRole(g, me) === 'Administrator');
      if (action === 'use') groups = groups.filter((g) => ctx.env.world.variableGroupRole(g, me) !== 'Reader');
      const order = enumValue(q(req, 'queryOrder') ?? 'idDescending', ['idascending', 'iddescending'], 'queryOrder');
      groups.sort((a, b) => (order === 'idascending' ? a.id - b.id : b.id - a.id));
      // The continuation token of this listing is a group id (the SDK types it as a number and the
      // recorded GET_VariableGroupsByActionFilter request sends one): the page starts at that id.
      // Anything else is refused rather than read as "from the start".
      const token = q(req, 'continuationToken');
      if (token !== undefined && token !== '') {
        if (!/^\d+$/.test(token)) throw invalidToken(token);
        const t = Number(token);
        groups = groups.filter((g) => (order === 'idascending' ? g.id >= t : g.id <= t));
      }
      const top = q(req, '$top');
      if (top !== undefined && !/^\d+$/.test(top))
        throw errors.badRequest(`The value '${top}' is not valid for $top: use a non-negative integer.`, 'InvalidArgumentValueException');
      const items = top !== undefined ? groups.slice(0, Number(top)) : groups;
      const next = groups[items.length] ? String(groups[items.length]!.id) : undefined;
      return list(
        reply,
        items.map((g) => variableGroup(ctx.env.urls, ctx.env.world, ctx.org, g)),
        next,
      );
    }),
  );

  app.get(
    '/:org/:project/_apis/distributedtask/variablegroups/:groupId',
    orgRoute(env, host, { scope: 'vso.variablegroups_read' }, async (req, _reply, ctx) => {
      const project = requireProject(ctx, params(req).project!);
      const vg = ctx.env.world.variableGroup(ctx.org, groupId(params(req).groupId));
      // Unconfirmed: the service may answer 200 with an empty body for an unknown id; the emulator
      // answers 404 so a client that mistakes "absent" for "empty" is caught.
      if (!vg || !vg.projectRefs.some((r) => r.projectId === project.id)) {
        throw errors.notFound(
          `Variable group with id ${params(req).groupId} does not exist in project ${project.name}.`,
          'VariableGroupNotFoundException',
        );
      }
      return variableGroup(ctx.env.urls, ctx.env.world, ctx.org, vg);
    }),
  );

  for (const prefix of ['/:org', '/:org/:project']) {
    app.post(
      `${prefix}/_apis/distributedtask/variablegroups`,
      orgRoute(env, host, { scope: 'vso.variablegroups_write' }, async (req, _reply, ctx) => {
        const parsed = parseBody(ctx, req.body, urlProject(ctx, req));
        if (nameClash(ctx, parsed)) {
          // Unconfirmed status and wording.
          throw new AdoError(400, `Variable group with name ${parsed.name} already exists.`, 'VariableGroupExistsException');
        }
        const vg = ctx.env.world.addVariableGroup(ctx.org.name, { ...parsed, createdBy: ctx.principal.identity.id });
        return variableGroup(ctx.env.urls, ctx.env.world, ctx.org, vg);
      }),
    );

    app.put(
      `${prefix}/_apis/distributedtask/variablegroups/:groupId`,
      orgRoute(env, host, { scope: 'vso.variablegroups_write' }, async (req, _reply, ctx) => {
        const id = groupId(params(req).groupId);
        const parsed = parseBody(ctx, req.body, urlProject(ctx, req));
        const existing = ctx.env.world.variableGroup(ctx.org, id);
        if (!existing) {
          throw errors.notFound(`Variable group with id ${id} does not exist.`, 'VariableGroupNotFoundException');
        }
        requireManage(ctx, existing);
        if (nameClash(ctx, parsed, id))
          throw new AdoError(400, `Variable group with name ${parsed.name} already exists.`, 'VariableGroupExistsException');
        const vg = ctx.env.world.updateVariableGroup(ctx.org, id, { ...parsed, modifiedBy: ctx.principal.identity.id })!;
        return variableGroup(ctx.env.urls, ctx.env.world, ctx.org, vg);
      }),
    );

    app.delete(
      `${prefix}/_apis/distributedtask/variablegroups/:groupId`,
      orgRoute(env, host, { scope: 'vso.variablegroups_manage' }, async (req, reply, ctx) => {
        const id = groupId(params(req).groupId);
        const fromUrl = urlProject(ctx, req);
        const raw = q(req, 'projectIds');
        if (!raw && !fromUrl) throw errors.badRequest('Value cannot be null.\r\nParameter name: projectIds', 'ArgumentNullException');
        const projectIds = raw
          ? decodeURIComponent(raw)
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
              .map((s) => {
                const p = ctx.env.world.findProject(ctx.org, s);
                if (!p) throw errors.projectNotFound(s, isGuid(s));
                return p.id;
              })
          : [fromUrl!.id];
        const existing = ctx.env.world.variableGroup(ctx.org, id);
        if (existing) requireManage(ctx, existing);
        if (!ctx.env.world.deleteVariableGroup(ctx.org, id, projectIds)) {
          throw errors.notFound(`Variable group with id ${id} does not exist.`, 'VariableGroupNotFoundException');
        }
        return reply.code(204).send();
      }),
    );
  }
}
