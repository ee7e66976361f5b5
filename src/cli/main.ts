import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../config/config.ts';
import { KeyConfigError } from '../crypto/index.ts';
import { VERSION } from '../version.ts';
import { runStart } from './start.ts';
import { runServer } from './server.ts';
import { runMigrate } from './migrate.ts';
import { runKeysRotate } from './keys.ts';
import { runRunner } from './runner.ts';
import { runAdminLink, runAdminOperator, runAdminResetPassword } from './admin.ts';
import { runSeal, SEAL_USES } from './seal.ts';
import type { SealOptions } from './seal.ts';
import type { ApplyOptions } from './apply/command.ts';
import { UsageError } from './usage-error.ts';

/** Parses a TCP port; commander reports the InvalidArgumentError as one line and exit code 2. */
export function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('must be a whole number from 0 to 65535.');
  return Number(value);
}

function parseHttpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be a URL like https://keyway.example.com.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidArgumentError('must be an http or https URL.');
  return url.href.replace(/\/+$/, '');
}

function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number of at least 1.');
  return Number(value);
}

export function buildProgram(): Command {
  const program = new Command('keyway')
    .description('Keyway: access from your runners to Azure DevOps, with no usable credential in the middle.')
    .version(VERSION, '-v, --version')
    .showHelpAfterError(false)
    .configureOutput({ outputError: (message, write) => write(message.split('\n')[0] + '\n') })
    .exitOverride();

  program
    .command('start')
    .description('Run the management plane and a local runner in one process, on SQLite under the data directory')
    .addOption(new Option('-p, --port <port>', 'TCP port to listen on (default: KEYWAY_PORT or 8080)').argParser(parsePort))
    .option('-d, --data-dir <dir>', 'directory for databases and keys (default: KEYWAY_DATA_DIR or ./.keyway-data)')
    .option('--host <host>', 'address to bind (default: KEYWAY_HOST or 127.0.0.1)')
    .option('--demo', 'also start the bundled Azure DevOps and Entra ID emulator and configure it')
    .addOption(
      new Option(
        '--emulator-port <port>',
        "--demo: the emulator's first port; it uses four consecutive ports (default: the ports of the last start, kept in {dataDir}/emulator, else random)",
      ).argParser(parsePort),
    )
    .action(async (opts: { port?: number; dataDir?: string; host?: string; demo?: boolean; emulatorPort?: number }) => {
      if (opts.emulatorPort !== undefined && !opts.demo) throw new UsageError('--emulator-port needs --demo');
      await runStart(opts);
    });

  program
    .command('server')
    .description('Run the management plane alone against KEYWAY_DATABASE_URL (a SQLite path or postgres:// URL)')
    .addOption(new Option('-p, --port <port>', 'TCP port to listen on (default: KEYWAY_PORT or 8080)').argParser(parsePort))
    .option('--host <host>', 'address to bind (default: KEYWAY_HOST or 127.0.0.1)')
    .action(async (opts: { port?: number; host?: string }) => runServer(opts));

  program
    .command('runner')
    .description('Run a runner: registers once with an exchange token, then connects out to the management plane')
    .addOption(new Option('-s, --server <url>', 'management plane URL (needed for the first registration)').argParser(parseHttpUrl))
    .option('-t, --exchange-token <token>', 'one-time exchange token from the admin (first registration only)')
    .option(
      '-d, --data-dir <dir>',
      'directory for the runner key, registration and credential store (default: KEYWAY_DATA_DIR or ~/.local/share/keyway/runner)',
    )
    .addOption(
      new Option(
        '--metrics-port <port>',
        'serve Prometheus metrics on GET /metrics at this port (on KEYWAY_HOST); off by default',
      ).argParser(parsePort),
    )
    .option(
      '--replica',
      'join a runner that already runs elsewhere, as one more replica on the shared PostgreSQL store (KEYWAY_RUNNER_DATABASE_URL), with copies of its runner-key.json and runner-registration.json',
    )
    .action(async (opts: { server?: string; exchangeToken?: string; dataDir?: string; replica?: boolean; metricsPort?: number }) =>
      runRunner(opts),
    );

  program
    .command('migrate')
    .description('Apply pending database migrations (management plane, or the runner store with --runner) and exit')
    .option('--runner', 'migrate the runner store instead of the management plane')
    .option('-d, --data-dir <dir>', 'data directory holding the embedded SQLite files')
    .action(async (opts: { runner?: boolean; dataDir?: string }) => runMigrate(opts));

  const keys = program.command('keys').description('Manage the data keys that encrypt credentials at rest');
  keys
    .command('rotate')
    .description('Add a new primary key and re-encrypt every stored value under it, in batches, while Keyway keeps serving')
    .option('-d, --data-dir <dir>', 'data directory of the runner store (default: KEYWAY_DATA_DIR or ./.keyway-data)')
    .addOption(new Option('--batch-size <n>', 'rows re-encrypted per batch').argParser(parsePositive).default(500))
    .action(async (opts: { dataDir?: string; batchSize: number }) => runKeysRotate(opts));

  const admin = program
    .command('admin')
    .description('Operator commands on the machine that holds the management database (they act on it directly and are audited)');
  admin
    .command('link')
    .description('Print a fresh one-time sign-in link (15 minutes) for an account: by default the first instance operator')
    .option('-e, --email <email>', 'the account to sign in as')
    .option('-o, --organization <slug>', 'the organization the session opens in')
    .option(
      '-d, --data-dir <dir>',
      'data directory of the embedded database (default: KEYWAY_DATA_DIR or ./.keyway-data; KEYWAY_DATABASE_URL wins)',
    )
    .action(async (opts: { email?: string; organization?: string; dataDir?: string }) => runAdminLink(opts));
  admin
    .command('reset-password')
    .description(
      "Reset an account's password: it stops working, sessions and API tokens end, and a one-time link lets the person set a new one",
    )
    .argument('<email>', 'the account')
    .option('-d, --data-dir <dir>', 'data directory of the embedded database')
    .action(async (email: string, opts: { dataDir?: string }) => runAdminResetPassword({ email, ...opts }));
  admin
    .command('operator')
    .description('Make an account an instance operator (creates organizations, disables accounts), or take it back with --revoke')
    .argument('<email>', 'the account')
    .option('--revoke', 'take operator rights back')
    .option('-d, --data-dir <dir>', 'data directory of the embedded database')
    .action(async (email: string, opts: { revoke?: boolean; dataDir?: string }) => runAdminOperator({ email, ...opts }));

  program
    .command('emulator')
    .description('Run the Azure DevOps and Entra ID emulator (for demos and tests)')
    .addOption(
      new Option('-p, --port <port>', 'first TCP port; the emulator uses four consecutive ports (0 = random)')
        .argParser(parsePort)
        .default(0),
    )
    .action(async (opts: { port: number }) => {
      const { runEmulatorCommand } = await import('../../emulator/cli.ts');
      await runEmulatorCommand({ port: opts.port });
    });

  program
    .command('git-credential')
    .description(
      'git credential helper: asks the local runner for your current Azure DevOps token (git passes get, store or erase; set credential.useHttpPath=true)',
    )
    .argument('<action>', 'get, store or erase')
    .option(
      '--secret-file <path>',
      "the environment's secret file, e.g. {workspace}/../.keyway/secret (default: KEYWAY_CREDENTIAL_SECRET_FILE)",
    )
    .option('--socket <path>', "the runner's credential socket (default: KEYWAY_CREDENTIAL_SOCKET or {dataDir}/run/credentials.sock)")
    .option('-d, --data-dir <dir>', "the runner's data directory, to find its socket (default: KEYWAY_DATA_DIR or ./.keyway-data)")
    .action(async (action: string, opts: { secretFile?: string; socket?: string; dataDir?: string }) => {
      const { runGitCredential } = await import('../runner/environments/git-credential-cli.ts');
      process.exitCode = await runGitCredential(action, opts, {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        env: process.env,
      });
    });

  const context = program.command('context').description('Work with repository context URLs');
  context
    .command('parse')
    .description('Parse an Azure DevOps repository URL and print the result as JSON')
    .argument('<url>', 'any Azure DevOps repository, branch, commit, pull request or file URL')
    .option(
      '-s, --server <url>',
      'an Azure DevOps Server with its virtual directory, e.g. https://ado.example.local/tfs (repeatable)',
      (value: string, all: string[] = []) => [...all, value],
    )
    .option(
      '-d, --data-dir <dir>',
      "also the Servers configured in this data directory's management database (default: KEYWAY_DATA_DIR or ./.keyway-data)",
    )
    .action(async (url: string, opts: { server?: string[]; dataDir?: string }) => {
      const { loadConfig } = await import('../config/config.ts');
      const { runContextParse, serverOption } = await import('./context-parse.ts');
      let servers;
      try {
        servers = (opts.server ?? []).map(serverOption);
      } catch (err) {
        process.stderr.write(`keyway: ${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const result = await runContextParse(
        url,
        servers,
        loadConfig({ ...process.env, ...(opts.dataDir ? { KEYWAY_DATA_DIR: opts.dataDir } : {}) }),
      );
      if (result.stdout) process.stdout.write(result.stdout.endsWith('\n') ? result.stdout : `${result.stdout}\n`);
      if (result.stderr) process.stderr.write(result.stderr.endsWith('\n') ? result.stderr : `${result.stderr}\n`);
      process.exitCode = result.exitCode;
    });

  program
    .command('seal')
    .description(
      'Seal a secret for a runner (HPKE to its public key; docs/sealing.md) and print the sealed value, for API clients and automation',
    )
    .addOption(new Option('--for <use>', 'what the value is for').choices([...SEAL_USES]).makeOptionMandatory())
    .option('-r, --runner <id>', 'the runner the value is for (its public key is fetched from the server)')
    .option(
      '--id <id>',
      'the record the value belongs to: integration (client-secret, pat), app connection, or sync; made up for client-secret and app-connection when omitted',
    )
    .option('--user <id>', 'pat: the user the PAT belongs to')
    .option('-f, --file <path>', 'read the secret from this file instead of standard input')
    .option('--public-key <key>', "the runner's public key (base64url), instead of fetching it")
    .addOption(
      new Option(
        '-s, --server <url>',
        'Keyway URL (default: KEYWAY_SERVER_URL or KEYWAY_PUBLIC_URL); the API token comes from KEYWAY_API_TOKEN',
      ).argParser(parseHttpUrl),
    )
    .action(async (opts: SealOptions) => {
      await runSeal(opts, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
    });

  program
    .command('apply')
    .description(
      "Make Keyway match a keyway.yaml (runners' integrations, projects, members, app connections, syncs): prints the plan, then applies it; secrets come from environment variables or files and are sealed here",
    )
    .requiredOption('-f, --file <path>', 'the keyway.yaml to apply')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--prune', 'also delete what the file does not name under the runners and projects it declares')
    .option('-y, --yes', 'do not ask before applying (asked only on a terminal)')
    .addOption(
      new Option(
        '-s, --server <url>',
        'Keyway URL (default: KEYWAY_SERVER_URL or KEYWAY_PUBLIC_URL); the API token comes from KEYWAY_API_TOKEN',
      ).argParser(parseHttpUrl),
    )
    .action(async (opts: ApplyOptions) => {
      const { runApply } = await import('./apply/command.ts');
      await runApply(opts, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
    });

  program
    .command('export')
    .description('Print the organization as a keyway.yaml for keyway apply (secrets and values as environment variable references)')
    .option('--schema', 'print the keyway.yaml JSON Schema instead (for editors)')
    .addOption(
      new Option(
        '-s, --server <url>',
        'Keyway URL (default: KEYWAY_SERVER_URL or KEYWAY_PUBLIC_URL); the API token comes from KEYWAY_API_TOKEN',
      ).argParser(parseHttpUrl),
    )
    .action(async (opts: { server?: string; schema?: boolean }) => {
      const { runExport } = await import('./apply/command.ts');
      await runExport(opts, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
    });

  program
    .command('backup')
    .description(
      'Back up the embedded SQLite databases (online: consistent while Keyway serves) and the key files into an empty directory; PostgreSQL: use pg_dump',
    )
    .requiredOption('--to <dir>', 'a new or empty directory for the backup (created with mode 0700)')
    .option(
      '-d, --data-dir <dir>',
      'data directory to back up (default: KEYWAY_DATA_DIR or ./.keyway-data; a runner machine: ~/.local/share/keyway/runner)',
    )
    .action(async (opts: { to: string; dataDir?: string }) => {
      const [{ runBackup }, { loadConfig }, { resolve }] = await Promise.all([
        import('./backup.ts'),
        import('../config/config.ts'),
        import('node:path'),
      ]);
      const config = loadConfig(process.env, { dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined });
      process.stdout.write(`backing up ${config.dataDir} into ${resolve(opts.to)}\n`);
      const manifest = await runBackup(config, resolve(opts.to), (line) => process.stdout.write(`${line}\n`));
      for (const missing of manifest.notIncluded) process.stdout.write(`  not included: ${missing}\n`);
      process.stdout.write(
        `backup complete: ${manifest.files.length} file(s); it holds the keys that read every stored credential: keep it as safe as the keys themselves\n`,
      );
    });

  program
    .command('restore')
    .description(
      'Restore a keyway backup into a new data directory (stop Keyway first; never over existing files), then check that the keys open the store',
    )
    .requiredOption('--from <dir>', 'a directory written by keyway backup')
    .option('-d, --data-dir <dir>', 'data directory to restore into (default: KEYWAY_DATA_DIR or ./.keyway-data)')
    .action(async (opts: { from: string; dataDir?: string }) => {
      const [{ runRestore }, { loadConfig }, { resolve }] = await Promise.all([
        import('./backup.ts'),
        import('../config/config.ts'),
        import('node:path'),
      ]);
      const config = loadConfig(process.env, { dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined });
      process.stdout.write(`restoring ${resolve(opts.from)} into ${config.dataDir}\n`);
      await runRestore(config, resolve(opts.from), (line) => process.stdout.write(`${line}\n`));
      process.stdout.write('restore complete: start Keyway on this data directory\n');
    });

  return program;
}

/** Traces go out by OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set. */
async function startTracingIfConfigured(command: string | undefined): Promise<void> {
  if (!process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() && !process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim()) return;
  if (!['start', 'server', 'runner', 'emulator'].includes(command ?? '')) return;
  const { startTracing } = await import('../telemetry/tracing.ts');
  startTracing({ serviceName: command === 'start' ? 'keyway' : `keyway-${command}` });
}

export async function main(argv: string[]): Promise<void> {
  await startTracingIfConfigured(argv[2]);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; a bad flag or value is a usage error: exit code 2.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof ConfigError || err instanceof KeyConfigError || err instanceof UsageError) {
      process.stderr.write(`keyway: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`keyway: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
