import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../config/config.ts';
import { KeyConfigError } from '../crypto/index.ts';
import { VERSION } from '../version.ts';
import { runStart } from './start.ts';
import { runServer } from './server.ts';
import { runMigrate } from './migrate.ts';
import { runKeysRotate } from './keys.ts';
import { runRunner } from './runner.ts';

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
    .action(async (opts: { port?: number; dataDir?: string; host?: string; demo?: boolean }) => runStart(opts));

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
    .option('-d, --data-dir <dir>', 'directory for the runner key, registration and credential store (default: KEYWAY_DATA_DIR or ./.keyway-data)')
    .action(async (opts: { server?: string; exchangeToken?: string; dataDir?: string }) => runRunner(opts));

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

  program
    .command('emulator')
    .description('Run the Azure DevOps and Entra ID emulator (for demos and tests)')
    .addOption(new Option('-p, --port <port>', 'first TCP port; the emulator uses four consecutive ports (0 = random)').argParser(parsePort).default(0))
    .action(async (opts: { port: number }) => {
      const { runEmulatorCommand } = await import('../../emulator/cli.ts');
      await runEmulatorCommand({ port: opts.port });
    });

  program
    .command('git-credential')
    .description("git credential helper: asks the local runner for your current Azure DevOps token (git passes get, store or erase; set credential.useHttpPath=true)")
    .argument('<action>', 'get, store or erase')
    .option('--secret-file <path>', "the environment's secret file, e.g. {workspace}/../.keyway/secret (default: KEYWAY_CREDENTIAL_SECRET_FILE)")
    .option('--socket <path>', "the runner's credential socket (default: KEYWAY_CREDENTIAL_SOCKET or {dataDir}/run/credentials.sock)")
    .option('-d, --data-dir <dir>', "the runner's data directory, to find its socket (default: KEYWAY_DATA_DIR or ./.keyway-data)")
    .action(async (action: string, opts: { secretFile?: string; socket?: string; dataDir?: string }) => {
      const { runGitCredential } = await import('../runner/environments/git-credential-cli.ts');
      process.exitCode = await runGitCredential(action, opts, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
    });

  const context = program.command('context').description('Work with repository context URLs');
  context
    .command('parse')
    .description('Parse an Azure DevOps repository URL and print the result as JSON')
    .argument('<url>', 'any Azure DevOps repository, branch, commit, pull request or file URL')
    .option('-s, --server <url>', 'an Azure DevOps Server with its virtual directory, e.g. https://ado.example.local/tfs (repeatable)', (value: string, all: string[] = []) => [...all, value])
    .option('-d, --data-dir <dir>', "also the Servers configured in this data directory's management database (default: KEYWAY_DATA_DIR or ./.keyway-data)")
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
      const result = await runContextParse(url, servers, loadConfig({ ...process.env, ...(opts.dataDir ? { KEYWAY_DATA_DIR: opts.dataDir } : {}) }));
      if (result.stdout) process.stdout.write(result.stdout.endsWith('\n') ? result.stdout : `${result.stdout}\n`);
      if (result.stderr) process.stderr.write(result.stderr.endsWith('\n') ? result.stderr : `${result.stderr}\n`);
      process.exitCode = result.exitCode;
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; a bad flag or value is a usage error: exit code 2.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof ConfigError || err instanceof KeyConfigError) {
      process.stderr.write(`keyway: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`keyway: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
