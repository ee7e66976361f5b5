import { ConfigError, loadConfig } from '../config/config.ts';
import { createLogger } from '../logging/logger.ts';
import { buildManagementPlane, openManagementDatabase } from './planes.ts';
import { onShutdown } from './shutdown.ts';
import { PUBLIC_URL_SETTING } from './admin.ts';

/** `keyway server`: the management plane alone, stateless over KEYWAY_DATABASE_URL. */
export async function runServer(options: { port?: number; host?: string }): Promise<void> {
  const config = loadConfig(process.env, { port: options.port, host: options.host });
  if (!config.databaseUrl)
    throw new ConfigError(
      'KEYWAY_DATABASE_URL',
      'is required for keyway server: a postgres:// URL (or a SQLite path for a single instance)',
    );
  if (!config.publicUrl)
    throw new ConfigError(
      'KEYWAY_PUBLIC_URL',
      'is required for keyway server: the URL users and runners reach it at, e.g. https://keyway.example.com',
    );
  const logger = createLogger(config.logLevel);
  const database = await openManagementDatabase(config.databaseUrl);
  const { app, core } = await buildManagementPlane(config, logger, database, config.publicUrl);
  await app.listen({ port: config.port, host: config.host });
  const created = await core.identity.bootstrap({ organizationName: 'Default', adminEmail: 'admin@keyway.local' });
  await core.identity.store.setSetting(PUBLIC_URL_SETTING, config.publicUrl, new Date().toISOString());
  if (created) {
    const link = await core.identity.createSignInLink(created.userId, created.organizationId);
    process.stdout.write(
      `First start: sign in as the admin (one-time link, valid ${link.expiresInMinutes} minutes):\n  ${config.publicUrl}/sign-in/link#token=${link.token}\n` +
        'Lost it? On a machine that reaches the database: keyway admin link\n',
    );
  }
  logger.info({ database: database.label, publicUrl: config.publicUrl }, 'management plane listening');
  onShutdown(logger, async () => {
    await app.close();
    await database.close();
  });
}
