// Git smart HTTP, served by the system's `git http-backend` as a CGI program behind the same
// authentication as the REST API. URL forms: /{org}/{project}/_git/{repo}, /{org}/_git/{repo} (repository
// named like its project), the {org}.visualstudio.com forms (rewritten to these by the services
// listener) and /tfs/{collection}/... on the Server listener.
import { spawn } from 'node:child_process';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, challengeHeaders, unknownOrgHeaders, type HostKind, type Principal } from '../ado/auth.ts';
import { admitMetered, chargeMetered, params, resolveOrg, type AdoEnv } from '../ado/context.ts';
import { AdoError } from '../ado/errors.ts';
import { scopesGrant } from '../ado/scopes.ts';
import type { Organization, Repository } from '../ado/world.ts';
import { gitBaseEnv, headRef, listRefs, refExistsOnDisk, setHead } from './repo.ts';

const HTTP_BACKEND = process.env.KEYWAY_GIT_HTTP_BACKEND ?? '/usr/lib/git-core/git-http-backend';

type Service = 'git-upload-pack' | 'git-receive-pack';

function text(reply: FastifyReply, status: number, message: string, headers: Record<string, string | string[]> = {}): FastifyReply {
  // git prints a text/plain body of a failed request as "remote: …" lines.
  return reply.code(status).headers(headers).type('text/plain; charset=utf-8').send(`${message}\n`);
}

function repoNotFound(nameOrId: string): string {
  return `TF401019: The Git repository with name or identifier ${nameOrId} does not exist or you do not have permissions for the operation you are attempting.`;
}

export function registerGitRoutes(app: FastifyInstance, env: AdoEnv, host: 'services' | 'server'): void {
  // Request bodies reach `git http-backend` untouched (gzip included): no parsing here.
  for (const type of ['application/x-git-upload-pack-request', 'application/x-git-receive-pack-request']) {
    if (!app.hasContentTypeParser(type)) app.addContentTypeParser(type, (_req, _payload, done) => done(null));
  }
  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const p = params(req);
    return serveGit(env, host, req, reply, p.org!, p.project ?? null, p.repo!, p['*'] ?? '');
  };
  for (const url of ['/:org/:project/_git/:repo/*', '/:org/_git/:repo/*']) {
    app.route({ method: ['GET', 'POST'], url, handler });
  }
}

async function serveGit(
  env: AdoEnv,
  host: HostKind,
  req: FastifyRequest,
  reply: FastifyReply,
  orgName: string,
  projectName: string | null,
  repoName: string,
  tail: string,
): Promise<unknown> {
  const org = resolveOrg(env, host, orgName);
  const challenge = challengeHeaders(env.urls, host, org);
  if (!org)
    return text(
      reply,
      401,
      'TF400813: Resource not available for anonymous access. Client authentication required.',
      unknownOrgHeaders(env.urls, host),
    );

  const query = (req.query ?? {}) as Record<string, string | undefined>;
  let service: Service | null = null;
  if (tail === 'info/refs' && (query.service === 'git-upload-pack' || query.service === 'git-receive-pack')) service = query.service;
  else if (req.method === 'POST' && (tail === 'git-upload-pack' || tail === 'git-receive-pack')) service = tail;

  const outcome = await authenticate(env, req.headers.authorization, { host, org });
  if (!outcome.ok) {
    const f = outcome.failure;
    // A service principal outside the organization gets the "repository not found" answer: service
    // principals need Basic access in the organization, or git answers TF401019
    // (docs/azure-devops.md, "Git over HTTPS"; unconfirmed for service principals).
    if (f.kind === 'spNotMember') return text(reply, 404, repoNotFound(repoName));
    // Anything else: 401 with a Basic challenge, so git asks its credential helper or prompts.
    return text(reply, 401, 'TF400813: Resource not available for anonymous access. Client authentication required.', challenge);
  }
  const principal = outcome.principal;

  const project = projectName ? env.world.findProject(org, projectName) : null;
  let repo: Repository | undefined;
  if (projectName) repo = project ? env.world.findRepository(org, project, repoName) : undefined;
  else {
    // /{org}/_git/{repo}: the repository named like its project.
    const sameNamed = env.world.findProject(org, repoName);
    repo = sameNamed ? env.world.findRepository(org, sameNamed, repoName) : env.world.findRepository(org, null, repoName);
  }
  if (!repo) return text(reply, 404, repoNotFound(repoName));
  if (!env.world.canReadRepository(repo, principal.identity.id)) {
    env.world.recordRepositoryDenial(repo, principal.identity.id, 'git');
    return text(reply, 404, repoNotFound(repoName));
  }

  if (tail === 'vsts/info' && req.method === 'GET') return vstsInfo(env, org, repo, reply);
  if (!service) {
    // Only the smart protocol is served.
    return text(reply, 404, 'Only the smart HTTP protocol is served; use git 1.6.6 or later.');
  }
  const write = service === 'git-receive-pack';
  if (!scopesGrant(principal.scopes, write ? 'vso.code_write' : 'vso.code')) {
    if (write) return text(reply, 403, genericContribute(principal));
    // A credential without code scope is refused like a bad credential (unconfirmed).
    return text(reply, 401, 'TF400813: The user is not authorized to access this resource.', challenge);
  }
  // Cloning and pushing count against the identity's consumption like REST calls ("even if build
  // agents are self-hosted, they generate load by cloning", rate-limits documentation).
  let metered: Awaited<ReturnType<typeof admitMetered>>;
  try {
    metered = await admitMetered(env, req, reply, principal, org);
  } catch (e) {
    if (e instanceof AdoError) return text(reply, e.status, e.message, e.headers);
    throw e;
  }
  // A push is recorded as the service records it: who pushed, which refs moved, which commits came in.
  // It is written before the answer ends, so a client reading /pushes right after `git push` sees it.
  const before = write ? await env.world.branchAndTagRefs(repo) : undefined;
  const recordPush = async (): Promise<void> => {
    if (before) await env.world.recordRefChanges(repo, principal.identity.id, before).catch(() => undefined);
  };
  try {
    return await runBackend(env, req, reply, repo, tail, principal, recordPush);
  } finally {
    chargeMetered(env, reply, metered, undefined);
  }
}

/** The service's answer to a push without write access (TF401027). */
function genericContribute(principal: Principal): string {
  const who =
    principal.identity.kind === 'user'
      ? `${principal.identity.displayName} (${principal.identity.uniqueName})`
      : principal.identity.displayName;
  return `TF401027: You need the Git 'GenericContribute' permission to perform this action. Details: identity '${who}', scope 'repository'.`;
}

/**
 * `GET …/_git/{repo}/vsts/info`, shaped like the recorded example (git httpExamples,
 * GET__git_repositories__remoteurl.json): the collection's URL is its projectCollections resource,
 * the repository is the short reference, and its project's `state` is the enum's number (1 =
 * wellFormed), not the name the REST API uses elsewhere.
 */
function vstsInfo(env: AdoEnv, org: Organization, repo: Repository, reply: FastifyReply): unknown {
  const orgUrl = env.urls.orgUrl(org);
  const project = env.world.projectById(repo.projectId)!;
  return reply.send({
    serverUrl: org.kind === 'server' ? env.urls.server : orgUrl,
    collection: { id: org.id, name: org.name, url: `${orgUrl}/_apis/projectCollections/${org.id}` },
    repository: {
      id: repo.id,
      name: repo.name,
      url: `${orgUrl}/_apis/git/repositories/${repo.id}`,
      project: { id: project.id, name: project.name, url: `${orgUrl}/_apis/projects/${project.id}`, state: 1, revision: project.revision },
      remoteUrl: env.urls.remoteUrl(org, project, repo),
    },
  });
}

function runBackend(
  env: AdoEnv,
  req: FastifyRequest,
  reply: FastifyReply,
  repo: Repository,
  tail: string,
  principal: Principal,
  beforeEnd: () => Promise<void>,
): Promise<void> {
  const raw = req.raw;
  const cgiEnv: NodeJS.ProcessEnv = {
    ...gitBaseEnv(env.world.dataDir),
    GIT_PROJECT_ROOT: env.world.reposRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: `/${repo.id}.git/${tail}`,
    REQUEST_METHOD: req.method,
    QUERY_STRING: req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '',
    REMOTE_USER: principal.identity.uniqueName,
    REMOTE_ADDR: req.ip,
    ...gitConfigEnv([
      ['http.receivepack', 'true'],
      // Partial clone as the service offers it: blobless (blob:none) and treeless (tree:0) only;
      // any other filter (blob:limit, sparse) fails the request ("Git Partial Clone Now Supported
      // in Azure DevOps", docs/azure-devops-emulator.md).
      ['uploadpack.allowFilter', 'true'],
      ['uploadpackfilter.allow', 'false'],
      ['uploadpackfilter.blob:none.allow', 'true'],
      ['uploadpackfilter.tree.allow', 'true'],
      ['uploadpackfilter.tree.maxDepth', '0'],
    ]),
  };
  const h = req.headers;
  if (h['content-type']) cgiEnv.CONTENT_TYPE = h['content-type'];
  if (h['content-length']) cgiEnv.CONTENT_LENGTH = h['content-length'];
  // http-backend inflates gzip request bodies itself when told through HTTP_CONTENT_ENCODING.
  if (h['content-encoding']) cgiEnv.HTTP_CONTENT_ENCODING = String(h['content-encoding']);
  if (h['git-protocol']) cgiEnv.GIT_PROTOCOL = String(h['git-protocol']);

  reply.hijack();
  const res = reply.raw;
  // Headers already set on the reply (rate-limit headers from the fault hook) go out too.
  const extra = reply.getHeaders();
  // A client that went away before its turn (a latency fault, a killed git): no backend is
  // started, as one waiting for a request body that never ends would outlive the emulator.
  if (res.destroyed || raw.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const child = spawn(HTTP_BACKEND, [], { env: cgiEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let headerBuf = Buffer.alloc(0);
    let headersDone = false;
    const stderr: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        env.traffic?.gitBytes(chunk.length);
        res.write(chunk);
        return;
      }
      headerBuf = Buffer.concat([headerBuf, chunk]);
      let end = headerBuf.indexOf('\r\n\r\n');
      let sepLen = 4;
      if (end < 0) {
        end = headerBuf.indexOf('\n\n');
        sepLen = 2;
      }
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string | string[] | number> = {};
      for (const [k, v] of Object.entries(extra)) if (v !== undefined) headers[k] = v as string | string[] | number;
      for (const line of headerBuf.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]) || 200;
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      const rest = headerBuf.subarray(end + sepLen);
      env.traffic?.gitBytes(rest.length);
      if (rest.length) res.write(rest);
    });
    child.on('error', () => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('git http-backend could not be started\n');
      resolve();
    });
    child.on('close', (code) => {
      if (!headersDone) {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`git http-backend failed (${code ?? 'signal'}): ${Buffer.concat(stderr).toString('utf8').slice(0, 500)}\n`);
        resolve();
        return;
      }
      const finish = tail === 'git-receive-pack' ? fixHeadAfterPush(repo.gitDir).then(beforeEnd) : Promise.resolve();
      void finish.finally(() => {
        res.end();
        resolve();
      });
    });
    child.stdin.on('error', () => {
      /* the backend may stop reading early (e.g. on a protocol error); its output says why */
    });
    if (req.method === 'POST') raw.pipe(child.stdin);
    else child.stdin.end();
    const stopIfGone = (): void => {
      if (!res.writableFinished && child.exitCode === null) child.kill('SIGTERM');
    };
    res.on('close', stopIfGone);
    // The connection may have closed between the check above and this listener.
    if (res.destroyed) stopIfGone();
  });
}

/** git configuration for http-backend through the environment (GIT_CONFIG_COUNT, git 2.31+). */
function gitConfigEnv(entries: Array<[string, string]>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) => {
    out[`GIT_CONFIG_KEY_${i}`] = key;
    out[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return out;
}

/** The first branch pushed to an empty repository becomes its default branch, as in the service. */
async function fixHeadAfterPush(gitDir: string): Promise<void> {
  const head = headRef(gitDir);
  if (head && refExistsOnDisk(gitDir, head)) return;
  try {
    const branches = (await listRefs(gitDir)).filter((r) => r.name.startsWith('refs/heads/'));
    const first = branches[0];
    if (first) await setHead(gitDir, first.name);
  } catch {
    /* the repository stays without a default branch */
  }
}
