// `keyway context parse URL [--server URL]... [--data-dir DIR]`: which hosts are Azure DevOps
// Server is configuration, so the command is told — by `--server` (repeatable: the server's URL
// with its virtual directory, `https://ado.example.local/tfs`), and by the Server integrations
// configured in the management database of the data directory (or KEYWAY_DATABASE_URL), read
// without changing anything.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KeywayConfig } from '../config/config.ts';
import { openDatabase } from '../db/database.ts';
import type { ManagementDB } from '../db/management-schema.ts';
import { parseContextUrlCommand } from '../azure-devops/url.ts';
import type { ServerHostConfig } from '../azure-devops/url.ts';
import { parseOptionsFor, servicesOriginsFor } from '../management/repositories/parse-options.ts';
import type { IntegrationHost } from '../management/repositories/parse-options.ts';

/** `--server https://ado.example.local/tfs` → origin and virtual directory; a bad one is a usage error. */
export function serverOption(value: string): ServerHostConfig {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(
      `--server ${JSON.stringify(value.slice(0, 100))} is not a URL; give the server with its virtual directory, e.g. https://ado.example.local/tfs`,
    );
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
    throw new Error('--server must be an http(s) URL without credentials, query or fragment, e.g. https://ado.example.local/tfs');
  }
  return { origin: url.origin, virtualDirectory: url.pathname.replace(/\/+$/, '') };
}

/** The Server integrations configured in a management database; none when there is no database. */
async function configuredServers(config: KeywayConfig): Promise<IntegrationHost[]> {
  const url =
    config.databaseUrl ??
    (existsSync(join(config.dataDir, 'management.db')) ? `sqlite:${join(config.dataDir, 'management.db')}` : undefined);
  if (!url) return [];
  const database = await openDatabase<ManagementDB>(url);
  try {
    const rows = await database.db.selectFrom('scm_integrations').select(['settings', 'virtual_directory']).execute();
    return rows.flatMap((r) => {
      const settings = JSON.parse(r.settings) as { kind?: string; origin?: string };
      return settings.kind === 'server' && settings.origin
        ? [{ kind: 'server' as const, origin: settings.origin, virtualDirectory: r.virtual_directory }]
        : [];
    });
  } catch {
    // Not migrated yet (a fresh data directory): nothing is configured.
    return [];
  } finally {
    await database.close();
  }
}

export async function runContextParse(
  url: string,
  servers: ServerHostConfig[],
  config: KeywayConfig,
): Promise<ReturnType<typeof parseContextUrlCommand>> {
  const configured = await configuredServers(config);
  const fromFlags: IntegrationHost[] = servers.map((s) => ({
    kind: 'server',
    origin: s.origin,
    virtualDirectory: s.virtualDirectory ?? '',
  }));
  const options = parseOptionsFor([...fromFlags, ...configured], config.azureDevOpsServicesUrl);
  // URLs of a configured Services endpoint (the emulator, a sovereign cloud) parse as Services URLs.
  const result = parseContextUrlCommand(url, { ...options, servicesOrigins: servicesOriginsFor(config.azureDevOpsServicesUrl) });
  if (result.exitCode !== 0 && /is not an Azure DevOps host/.test(result.stderr)) {
    return {
      ...result,
      stderr: `${result.stderr.trimEnd()}; for an Azure DevOps Server, name it: --server https://{host}/{virtual directory}\n`,
    };
  }
  return result;
}
