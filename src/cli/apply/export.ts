import { stringify } from 'yaml';
import type { ApiClient } from '../api-client.ts';
import type { KeywayFile, RunnerSpec, ProjectSpec } from './schema.ts';
import { readIntegrations, readProjectContents, readProjects, readRunners } from './state.ts';

/** An environment variable name for a secret Keyway cannot give back: KEYWAY_SECRET_<PARTS>. */
function envName(...parts: string[]): string {
  return `KEYWAY_SECRET_${parts
    .join('_')
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')}`;
}

/**
 * `keyway export`: the organization's runners' integrations, projects, members, app connections and
 * syncs as a keyway.yaml. Secrets and variable values are write-only in Keyway, so each becomes an
 * environment variable reference (listed in the header) to fill in before applying.
 */
export async function exportKeywayFile(api: ApiClient): Promise<{ file: KeywayFile; variables: string[] }> {
  const variables: string[] = [];
  const ref = (...parts: string[]) => {
    const env = envName(...parts);
    variables.push(env);
    return { env };
  };
  const runners: RunnerSpec[] = [];
  const allRunners = await readRunners(api);
  for (const runner of allRunners) {
    const integrations = await readIntegrations(api, runner.id);
    runners.push({
      name: runner.name,
      integrations: integrations.map((i) => ({
        host: i.host,
        ...(i.virtualDirectory ? { virtualDirectory: i.virtualDirectory } : {}),
        ...(i.oauth
          ? {
              oauth: {
                clientId: i.oauth.clientId,
                issuerUrl: i.oauth.issuerUrl,
                // A credential without secret has nothing to fill in; a client secret comes from the environment.
                ...(i.oauth.credential && i.oauth.credential !== 'client-secret'
                  ? {
                      credential: i.oauth.credential,
                      ...(i.oauth.managedIdentityClientId ? { managedIdentityClientId: i.oauth.managedIdentityClientId } : {}),
                    }
                  : { clientSecret: ref(runner.name, i.host, i.virtualDirectory, 'client_secret') }),
              },
            }
          : {}),
        pat: i.pat.enabled,
      })),
    });
  }
  const projects: ProjectSpec[] = [];
  for (const project of await readProjects(api)) {
    const contents = await readProjectContents(api, project.id);
    const runnerName = (id: string) => allRunners.find((r) => r.id === id)?.name ?? id;
    projects.push({
      name: project.name,
      members: contents.members.map((m) => ({ email: m.email, role: m.role })),
      appConnections: contents.connections.map((c) => ({
        name: c.name,
        runner: runnerName(c.runnerId),
        method: c.method,
        ...(c.organization ? { organization: c.organization } : {}),
        ...(c.tenantId ? { tenantId: c.tenantId } : {}),
        ...(c.method !== 'access-token' && c.method !== 'oauth' && c.clientId ? { clientId: c.clientId } : {}),
        ...(c.method === 'access-token' ? { accessToken: ref(project.name, c.name, 'access_token') } : {}),
        ...(c.method === 'client-secret' ? { clientSecret: ref(project.name, c.name, 'client_secret') } : {}),
      })),
      syncs: contents.syncs.map((s) => ({
        name: s.name,
        connection: contents.connections.find((c) => c.id === s.connectionId)?.name ?? s.connectionId,
        organization: s.organization,
        project: s.project,
        groupName: s.groupName,
        ...(s.description ? { description: s.description } : {}),
        ...(s.scheduleMinutes ? { scheduleMinutes: s.scheduleMinutes } : {}),
        enabled: s.enabled,
        variables: s.variables.map((v) => ({
          name: v.name,
          value: ref(project.name, s.name, v.name),
          ...(v.isSecret ? { secret: true } : {}),
        })),
      })),
    });
  }
  return { file: { apiVersion: 'keyway/v1', runners, projects }, variables };
}

export function formatExport(exported: { file: KeywayFile; variables: string[] }, server: string): string {
  const header = [
    `# Exported from ${server} by keyway export.`,
    '# yaml-language-server: $schema=./keyway.schema.json',
    '# (editors complete and check this file with the schema: keyway export --schema > keyway.schema.json)',
    '# Keyway never gives secrets or variable values back: set these environment variables before `keyway apply`',
    "# (or replace a reference with { file: path }, or a plain variable's reference with its value):",
    ...exported.variables.map((v) => `#   ${v}`),
  ];
  return `${header.join('\n')}\n${stringify(exported.file, { lineWidth: 0 })}`;
}
