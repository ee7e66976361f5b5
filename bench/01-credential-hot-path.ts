// Benchmark 1: the credential hot path. The runner's endpoint that hands a workspace's credential
// helper the user's current token (valid and cached), at 64 connections for 10 s with autocannon,
// against a bare Fastify route answering a constant on the same kind of socket, in the same run.
// Targets: at least 0.7× the bare route's requests per second; p99 under 10 ms.
import { request } from 'node:http';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { POSTGRES_URL, isPostgresAvailable } from '../test/support/databases.ts';
import { BENCH_DIR, compared, didNotLoad, lowerIsBetter, noneExpected, startWorker } from './lib.ts';
import type { BenchOptions, BenchResult, Benchmark, Figure } from './lib.ts';
import { HOT_PATH_REQUEST } from './support/credential-runner.ts';

const ID = '1';
const TITLE = 'Credential hot path (runner credential socket, valid cached token)';
const CONNECTIONS = 64;

type Ready = { type: 'ready'; socketPath: string; secret: string };

interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  failures: number;
}

function once(socketPath: string, secret: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: '/v1/git-credential',
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'text/plain' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(HOT_PATH_REQUEST);
  });
}

async function load(socketPath: string, secret: string, seconds: number): Promise<Load> {
  const result = await autocannon({
    url: 'http://keyway/v1/git-credential',
    socketPath,
    method: 'POST',
    headers: { ...(secret ? { authorization: `Bearer ${secret}` } : {}), 'content-type': 'text/plain' },
    body: HOT_PATH_REQUEST,
    connections: CONNECTIONS,
    duration: seconds,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

/** Starts the server process, checks one answer, warms it up, then measures. */
async function measure(mode: 'bare' | 'runner', seconds: number, store?: string): Promise<Load> {
  const worker = startWorker<Ready>(join(BENCH_DIR, 'workers/credential-endpoint.ts'), {
    KEYWAY_BENCH_MODE: mode,
    ...(store ? { KEYWAY_BENCH_STORE: store } : {}),
  });
  try {
    const { socketPath, secret } = await worker.next<Ready>('ready');
    const first = await once(socketPath, secret);
    if (first.status !== 200 || !/^password=.+$/m.test(first.body))
      throw new Error(`${mode} endpoint answered ${first.status}, not a credential`);
    await load(socketPath, secret, Math.min(2, seconds));
    return await load(socketPath, secret, seconds);
  } finally {
    await worker.stop();
  }
}

export const benchmark: Benchmark = {
  id: ID,
  title: TITLE,
  async run(options: BenchOptions): Promise<BenchResult> {
    try {
      await import('../src/runner/environments/credential-server.ts');
    } catch (err) {
      return didNotLoad(ID, TITLE, `the runner's credential endpoint (src/runner/environments/credential-server.ts)`, err);
    }
    const seconds = options.short ? 3 : 10;
    const bare = await measure('bare', seconds);
    const runner = await measure('runner', seconds);
    const pg = (await isPostgresAvailable()) ? await measure('runner', seconds, POSTGRES_URL) : undefined;
    options.log(
      `  ${CONNECTIONS} connections, ${seconds} s each after a warm-up; bare ${bare.requests} requests, runner (SQLite) ${runner.requests}${pg ? `, runner (PostgreSQL) ${pg.requests}` : ''}`,
    );
    const ratio = runner.rps / bare.rps;
    const figures: Figure[] = [
      {
        name: 'requests/s (runner store on SQLite, the default)',
        value: runner.rps,
        unit: 'req/s',
        baseline: { value: bare.rps, label: 'bare Fastify route' },
        ratio,
        target: '≥ 0.7× baseline',
        met: ratio >= 0.7,
        kind: 'performance',
      },
      compared('latency p50', runner.p50, 'ms', { value: bare.p50, label: 'bare' }),
      lowerIsBetter('latency p99', runner.p99, 'ms', { value: bare.p99, label: 'bare' }, undefined, {
        target: '< 10 ms',
        met: runner.p99 < 10,
      }),
      noneExpected('failed requests (non-2xx, errors, timeouts)', runner.failures + bare.failures),
    ];
    if (pg) {
      figures.push(
        {
          name: 'requests/s (runner store on PostgreSQL)',
          value: pg.rps,
          unit: 'req/s',
          baseline: { value: bare.rps, label: 'bare' },
          ratio: pg.rps / bare.rps,
          target: '≥ 0.7× baseline',
          met: pg.rps / bare.rps >= 0.7,
          kind: 'performance',
        },
        { name: 'latency p99 (PostgreSQL)', value: pg.p99, unit: 'ms', target: '< 10 ms', met: pg.p99 < 10, kind: 'performance' },
        noneExpected('failed requests (PostgreSQL)', pg.failures),
      );
    }
    return {
      id: ID,
      title: TITLE,
      figures,
      notes: ["Server and load generator are separate processes sharing the machine's cores; autocannon latencies are whole milliseconds."],
    };
  },
};
