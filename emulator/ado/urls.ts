// URLs the emulator puts into responses, per host: services (dev.azure.com), vssps, login, and the
// Azure DevOps Server (under the virtual directory /tfs).
import type { Organization, Project, Repository } from './world.ts';

export interface ListenerOrigins {
  login: string;
  services: string;
  vssps: string;
  /** Origin of the Server listener, without the /tfs virtual directory. */
  server: string;
}

export const SERVER_VIRTUAL_DIR = '/tfs';

const seg = (s: string): string => encodeURIComponent(s);

export class Urls {
  constructor(private readonly origins: () => ListenerOrigins) {}

  get login(): string {
    return this.origins().login;
  }
  get services(): string {
    return this.origins().services;
  }
  get vssps(): string {
    return this.origins().vssps;
  }
  /** Server URL including the virtual directory (what an admin types as the server URL). */
  get server(): string {
    return this.origins().server + SERVER_VIRTUAL_DIR;
  }

  /** https://dev.azure.com/{org} or https://server/tfs/{collection}; no trailing slash. */
  orgUrl(org: Organization): string {
    return org.kind === 'server' ? `${this.server}/${seg(org.name)}` : `${this.services}/${seg(org.name)}`;
  }

  /** The `{org}.visualstudio.com` form, played by `{org}.localhost:{port}`. */
  visualStudioUrl(org: Organization): string {
    const u = new URL(this.services);
    return `${u.protocol}//${org.name.toLowerCase()}.localhost:${u.port}`;
  }

  vsspsOrgUrl(org: Organization): string {
    return org.kind === 'server' ? this.orgUrl(org) : `${this.vssps}/${seg(org.name)}`;
  }

  /**
   * Clone URL as the REST API reports it: `https://{org}@dev.azure.com/{org}/{project}/_git/{repo}` in
   * the cloud, and the short `/{org}/_git/{repo}` form when the repository is named like its project.
   */
  remoteUrl(org: Organization, project: Project, repo: Repository): string {
    const path = this.gitPath(project, repo);
    if (org.kind === 'server') return `${this.orgUrl(org)}/${path}`;
    const u = new URL(this.services);
    return `${u.protocol}//${seg(org.name)}@${u.host}/${seg(org.name)}/${path}`;
  }

  webUrl(org: Organization, project: Project, repo: Repository): string {
    return `${this.orgUrl(org)}/${this.gitPath(project, repo)}`;
  }

  /** Shape-faithful SSH URL; the emulator serves no SSH. */
  sshUrl(org: Organization, project: Project, repo: Repository): string {
    if (org.kind === 'server') {
      return `ssh://${new URL(this.server).hostname}:22/tfs/${seg(org.name)}/${seg(project.name)}/_git/${seg(repo.name)}`;
    }
    return `git@ssh.dev.azure.com:v3/${seg(org.name)}/${seg(project.name)}/${seg(repo.name)}`;
  }

  private gitPath(project: Project, repo: Repository): string {
    return project.name.toLowerCase() === repo.name.toLowerCase()
      ? `_git/${seg(repo.name)}`
      : `${seg(project.name)}/_git/${seg(repo.name)}`;
  }

  /** Where a browser would be sent to sign in (the real service uses app.vssps.visualstudio.com/_signin). */
  signInUrl(replyTo: string): string {
    return `${this.vssps}/_signin?realm=${encodeURIComponent(new URL(this.services).host)}&reply_to=${encodeURIComponent(replyTo)}`;
  }
}
