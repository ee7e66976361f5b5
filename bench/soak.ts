// `npm run soak [-- --minutes N] [--postgres]`: a steady load on the credential hot path (the
// runner's socket) and on the API (user routes through the control channel to the runner, and the
// runner's own routes) for N minutes (default 10), against a management plane and runner in a
// process of their own. Every interval that process reports its heap after a full GC, its RSS and
// its open handles; a least-squares line through the samples (the first fifth left out as
// warm-up) says whether anything grows. Pass: no failed request, heap growth projected over the run
// under max(4 MB, 5 %) and handle growth under 3; otherwise exit 1.
import { join } from 'node:path';
import autocannon from 'autocannon';
import { BENCH_DIR, machine, round, startWorker } from './lib.ts';
import { HOT_PATH_REQUEST } from './support/credential-runner.ts';

interface Ready {
  type: 'ready';
  url: string;
  socketPath: string;
  secret: string;
  apiToken: string;
  runnerToken: string;
}
interface Sample {
  type: 'sample';
  at: number;
  heapUsed: number;
  rss: number;
  external: number;
  handles: number;
}

function parseArgs(argv: string[]) {
  let minutes = 10;
  let postgres = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--minutes') minutes = Number(argv[++i]);
    else if (argv[i] === '--postgres') postgres = true;
    else {
      console.error(`soak: unknown argument ${argv[i]}; usage: npm run soak -- [--minutes N] [--postgres]`);
      process.exit(2);
    }
  }
  if (!Number.isFinite(minutes) || minutes <= 0) {
    console.error('soak: --minutes must be a positive number');
    process.exit(2);
  }
  return { minutes, postgres };
}

/** Least squares: slope per millisecond and the fit's first value. */
function trend(points: { x: number; y: number }[]): { slope: number; intercept: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

const { minutes, postgres } = parseArgs(process.argv.slice(2));
process.env.KEYWAY_LOG_LEVEL ??= 'silent';
const durationMs = minutes * 60_000;
const intervalMs = Math.max(1000, Math.min(10_000, durationMs / 30));
console.log(
  `Keyway soak: ${minutes} min on ${machine()}, store ${postgres ? 'PostgreSQL' : 'SQLite'}, sampling every ${intervalMs / 1000} s`,
);

const target = startWorker<Ready | Sample>(
  join(BENCH_DIR, 'workers/soak-target.ts'),
  { KEYWAY_SOAK_DB: postgres ? 'postgres' : 'sqlite', KEYWAY_LOG_LEVEL: 'silent' },
  { execArgv: ['--expose-gc'] },
);
let exitCode = 1;
try {
  const ready = await target.next<Ready>('ready');
  const samples: Sample[] = [];
  const sample = async () => {
    target.send({ type: 'sample' });
    samples.push(await target.next<Sample>('sample'));
  };
  await sample();
  const seconds = Math.round(durationMs / 1000);
  const loads = {
    // The git credential helper's path: steady, well below saturation.
    hotPath: autocannon({
      url: 'http://keyway/v1/git-credential',
      socketPath: ready.socketPath,
      method: 'POST',
      headers: { authorization: `Bearer ${ready.secret}` },
      body: HOT_PATH_REQUEST,
      connections: 4,
      overallRate: 200,
      duration: seconds,
    }),
    // User routes, one of which goes through the control channel to the runner and back; under the
    // per-address rate limit of the API (600 a minute).
    api: autocannon({
      url: ready.url,
      connections: 2,
      overallRate: 8,
      duration: seconds,
      headers: { authorization: `Bearer ${ready.apiToken}` },
      requests: [
        { method: 'GET', path: '/api/v1/me' },
        { method: 'GET', path: '/api/v1/runners' },
        { method: 'GET', path: '/api/v1/scm/authorizations' },
      ],
    }),
    // The runner's own routes (not rate limited).
    runner: autocannon({
      url: `${ready.url}/api/v1/runner/self`,
      connections: 2,
      overallRate: 50,
      duration: seconds,
      headers: { authorization: `Bearer ${ready.runnerToken}` },
    }),
  };
  const sampler = setInterval(() => void sample().catch(() => undefined), intervalMs);
  const results = await Promise.all([loads.hotPath, loads.api, loads.runner]);
  clearInterval(sampler);
  await sample();

  const warm = samples.slice(Math.floor(samples.length / 5));
  const t0 = warm[0]?.at ?? 0;
  const fit = (f: (s: Sample) => number) => trend(warm.map((s) => ({ x: s.at - t0, y: f(s) })));
  const perMinute = (slope: number) => slope * 60_000;
  const mb = (b: number) => round(b / 1024 / 1024, 2);
  const heap = fit((s) => s.heapUsed);
  const rss = fit((s) => s.rss);
  const handles = fit((s) => s.handles);
  const first = warm[0]!;
  const last = warm[warm.length - 1]!;
  const heapGrowth = perMinute(heap.slope) * minutes;
  const heapLimit = Math.max(4 * 1024 * 1024, 0.05 * first.heapUsed);
  const handleGrowth = perMinute(handles.slope) * minutes;
  const [hot, api, run] = results;
  const failures = results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
  const verdicts = [
    {
      what: 'failed requests',
      ok: failures === 0,
      text: `${failures} (hot path ${hot.non2xx + hot.errors + hot.timeouts}, API ${api.non2xx + api.errors + api.timeouts}, runner routes ${run.non2xx + run.errors + run.timeouts}; target 0)`,
    },
    {
      what: 'heap after GC',
      ok: heapGrowth < heapLimit,
      text: `${mb(first.heapUsed)} → ${mb(last.heapUsed)} MB, trend ${round(perMinute(heap.slope) / 1024 / 1024, 3)} MB/min = ${mb(heapGrowth)} MB over the run (target < ${mb(heapLimit)} MB)`,
    },
    {
      what: 'open handles',
      ok: handleGrowth < 3,
      text: `${first.handles} → ${last.handles}, trend ${round(perMinute(handles.slope), 3)}/min = ${round(handleGrowth, 2)} over the run (target < 3)`,
    },
  ];
  console.log(
    `requests: hot path ${hot.requests.total} (${round(hot.requests.average, 0)}/s, p99 ${hot.latency.p99} ms), API ${api.requests.total} (p99 ${api.latency.p99} ms), runner routes ${run.requests.total} (p99 ${run.latency.p99} ms)`,
  );
  console.log(
    `rss: ${mb(first.rss)} → ${mb(last.rss)} MB, trend ${round(perMinute(rss.slope) / 1024 / 1024, 3)} MB/min (informative: RSS follows the allocator, not leaks)`,
  );
  console.log(`samples: ${samples.length} (${warm.length} after warm-up)`);
  for (const v of verdicts) console.log(`${v.what}: ${v.text} — ${v.ok ? 'met' : 'NOT MET'}`);
  const pass = verdicts.every((v) => v.ok);
  console.log(pass ? 'soak: PASS' : 'soak: FAIL');
  exitCode = pass ? 0 : 1;
} finally {
  await target.stop();
}
process.exit(exitCode);
