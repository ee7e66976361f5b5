import type { ApiClient } from '../api-client.ts';
import type { AppConnectionMethod } from '../../control/app-connections.ts';
import type { ClientCredentialType } from '../../control/client-credentials.ts';

// What `keyway apply` and `keyway export` read of a Keyway organization, in the API's shapes.

export interface RunnerState {
  id: string;
  name: string;
  status: string;
  publicKey: string | null;
}

export interface IntegrationState {
  id: string;
  host: string;
  virtualDirectory: string;
  oauth: {
    clientId: string;
    issuerUrl: string;
    clientSecretSet: boolean;
    credential?: ClientCredentialType;
    managedIdentityClientId?: string;
  } | null;
  pat: { enabled: boolean };
}

export interface ProjectState {
  id: string;
  name: string;
  role: string;
}

export interface MemberState {
  userId: string;
  email: string;
  role: 'owner' | 'member';
}

export interface ConnectionState {
  id: string;
  name: string;
  runnerId: string;
  method: AppConnectionMethod;
  organization: string | null;
  tenantId: string | null;
  clientId: string | null;
  status: string;
  credentialSet: boolean;
  authorizeUrl?: string;
}

export interface SyncState {
  id: string;
  name: string;
  connectionId: string;
  organization: string;
  project: string;
  groupName: string;
  description: string | null;
  variables: { name: string; isSecret: boolean }[];
  enabled: boolean;
  scheduleMinutes: number | null;
}

export interface ProjectContents {
  members: MemberState[];
  connections: ConnectionState[];
  syncs: SyncState[];
}

export async function readRunners(api: ApiClient): Promise<RunnerState[]> {
  return (await api.get<{ runners: RunnerState[] }>('/api/v1/runners')).runners.filter((r) => r.status !== 'revoked');
}

export async function readIntegrations(api: ApiClient, runnerId: string): Promise<IntegrationState[]> {
  return (await api.get<{ integrations: IntegrationState[] }>(`/api/v1/runners/${encodeURIComponent(runnerId)}/scm-integrations`))
    .integrations;
}

export async function readProjects(api: ApiClient): Promise<ProjectState[]> {
  return (await api.get<{ projects: ProjectState[] }>('/api/v1/projects')).projects;
}

export async function readProjectContents(api: ApiClient, projectId: string): Promise<ProjectContents> {
  const base = `/api/v1/projects/${encodeURIComponent(projectId)}`;
  const [members, connections, syncs] = await Promise.all([
    api.get<{ members: MemberState[] }>(`${base}/members`),
    api.get<{ connections: ConnectionState[] }>(`${base}/app-connections`),
    api.get<{ syncs: SyncState[] }>(`${base}/syncs`),
  ]);
  return { members: members.members, connections: connections.connections, syncs: syncs.syncs };
}

/** Integrations are one per host and virtual directory on a runner. */
export function integrationKey(host: string, virtualDirectory: string | undefined): string {
  return `${host.trim().toLowerCase()}${(virtualDirectory ?? '').trim().replace(/\/+$/, '').toLowerCase()}`;
}

export const sameName = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();
