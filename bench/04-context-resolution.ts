// Benchmark 4: context URL resolution. Every URL form a user pastes, parsed and resolved by the
// runner's `resolve-context` handler against the emulator with a stored PAT: Azure DevOps calls and
// milliseconds, cold (fresh runner caches) and warm (the same request again). Baseline per form: the
// same calls sent straight from a client, in the same run. Targets: the call counts the resolver
// documents (src/runner/repositories/resolve.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSeeded } from '../emulator/test-support.ts';
import { createAzureDevOpsClient } from '../src/azure-devops/client.ts';
import { parseRepositoryUrl } from '../src/azure-devops/url.ts';
import type { ParseRepositoryUrlOptions } from '../src/azure-devops/url.ts';
import { resolveEndpoints } from '../src/azure-devops/endpoints.ts';
import type { RunnerIntegration } from '../src/control/integration.ts';
import { didNotLoad, nowMs, summarize } from './lib.ts';
import type { BenchOptions, BenchResult, Benchmark, Figure } from './lib.ts';
import { openSqliteRunnerPieces, servicesIntegration, storePat } from './support/runner-fixture.ts';

const ID = '4';
const TITLE = 'Context URL resolution: Azure DevOps calls and ms per form, cold and warm';

type Handler = (payload: unknown) => Promise<unknown>;
interface Answer {
  calls: number;
  cached: boolean;
}

export const benchmark: Benchmark = {
  id: ID,
  title: TITLE,
  async run(options: BenchOptions): Promise<BenchResult> {
    let createRepositoryHandlers: (deps: unknown) => Record<string, Handler>;
    try {
      ({ createRepositoryHandlers } = (await import('../src/runner/repositories/handlers.ts')) as unknown as {
        createRepositoryHandlers: typeof createRepositoryHandlers;
      });
    } catch (err) {
      return didNotLoad(ID, TITLE, `the runner's resolve-context handler (src/runner/repositories/handlers.ts)`, err);
    }
    const repeats = options.short ? 9 : 41;
    const s = await startSeeded({});
    const dataDir = mkdtempSync(join(tmpdir(), 'keyway-bench4-'));
    const services = servicesIntegration('int_services');
    const serverOrigin = new URL(s.emu.urls.server).origin;
    const server: RunnerIntegration = {
      id: 'int_server',
      scmId: 'azure-devops',
      kind: 'server',
      host: new URL(serverOrigin).host,
      origin: serverOrigin,
      virtualDirectory: '/tfs',
      oauth: null,
      patEnabled: true,
    };
    const pieces = await openSqliteRunnerPieces(dataDir, services);
    try {
      // An Azure DevOps Server collection beside the Services organization.
      s.emu.world.addOrganization('Coll', { server: true });
      s.emu.world.addProject('Coll', 'Proj');
      s.emu.world.addMember('Coll', s.user.id);
      await s.emu.world.createRepository('Coll', 'Proj', 'tools', { commits: 3, createdBy: s.user.id });
      const serverPat = s.emu.world.createPat(s.user.id, { scopes: ['vso.code_write'], orgs: ['Coll'] }).token;
      const pr = await s.emu.world.createPullRequest(s.org, s.project, s.repo, {
        sourceRefName: 'refs/heads/feature/login',
        title: 'Login',
      });
      const endpoints = resolveEndpoints({ services: s.emu.urls.services, vssps: s.emu.urls.vssps, allowInsecureServerHosts: true });
      const direct = createAzureDevOpsClient({
        target: { kind: 'services', organization: s.org },
        endpoints,
        credential: { kind: 'pat', token: s.pat },
      });
      const sha = (await direct.listCommits(s.project, s.repo, { top: 1 })).items[0]?.commitId ?? '';

      await storePat(pieces, 'u1', services, s.pat, s.org);
      await storePat(pieces, 'u1', server, serverPat, 'Coll');
      const tokens = pieces.tokens();
      const newHandlers = () =>
        createRepositoryHandlers({
          tokens,
          credentials: pieces.credentials,
          integrations: { remember: () => undefined, get: async () => services },
          endpoints,
        });

      const repoUrl = `https://dev.azure.com/${s.org}/${s.project}/_git/${s.repo}`;
      const parseOptions: ParseRepositoryUrlOptions = { serverHosts: [{ origin: serverOrigin, virtualDirectory: '/tfs' }] };
      const serverClient = createAzureDevOpsClient({
        target: { kind: 'server', origin: serverOrigin, virtualDirectory: '/tfs', collection: 'Coll' },
        endpoints: { allowInsecureServerHosts: true },
        credential: { kind: 'pat', token: serverPat },
      });
      const repo = () => direct.getRepository(s.project, s.repo);
      // Each form with the calls a client that knew exactly what to ask would send (in parallel),
      // straight at the emulator: the baseline the runner's resolution is compared with.
      const forms: {
        label: string;
        url: string;
        integration: RunnerIntegration;
        cold: number;
        warm: number;
        direct: () => Promise<unknown>;
      }[] = [
        { label: 'repository (dev.azure.com)', url: repoUrl, integration: services, cold: 1, warm: 0, direct: repo },
        {
          label: 'repository ({org}.visualstudio.com)',
          url: `https://${s.org}.visualstudio.com/${s.project}/_git/${s.repo}`,
          integration: services,
          cold: 1,
          warm: 0,
          direct: repo,
        },
        {
          label: 'repository (SSH)',
          url: `git@ssh.dev.azure.com:v3/${s.org}/${s.project}/${s.repo}`,
          integration: services,
          cold: 1,
          warm: 0,
          direct: repo,
        },
        {
          label: 'repository (Server, collection + /tfs)',
          url: `${serverOrigin}/tfs/Coll/Proj/_git/tools`,
          integration: server,
          cold: 1,
          warm: 0,
          direct: () => serverClient.getRepository('Proj', 'tools'),
        },
        {
          label: 'branch',
          url: `${repoUrl}?version=GBfeature/login`,
          integration: services,
          cold: 2,
          warm: 1,
          direct: () => Promise.all([repo(), direct.listRefs(s.project, s.repo, { filter: 'heads/feature/login' })]),
        },
        {
          label: 'tag',
          url: `${repoUrl}?version=GTv1.0`,
          integration: services,
          cold: 2,
          warm: 1,
          direct: () => Promise.all([repo(), direct.listRefs(s.project, s.repo, { filter: 'tags/v1.0', peelTags: true })]),
        },
        {
          label: 'commit',
          url: `${repoUrl}/commit/${sha}`,
          integration: services,
          cold: 2,
          warm: 0,
          direct: () => Promise.all([repo(), direct.getCommit(s.project, s.repo, sha)]),
        },
        {
          label: 'pull request',
          url: `${repoUrl}/pullrequest/${pr.id}`,
          integration: services,
          cold: 2,
          warm: 1,
          direct: () => Promise.all([repo(), direct.getPullRequest(s.project, pr.id)]),
        },
        {
          label: 'file path on a branch',
          url: `${repoUrl}?path=/README.md&version=GBmain`,
          integration: services,
          cold: 2,
          warm: 1,
          direct: () => Promise.all([repo(), direct.listRefs(s.project, s.repo, { filter: 'heads/main' })]),
        },
      ];
      // Warm the code paths (JIT, connection pools) once before measuring.
      await newHandlers()['resolve-context']!({ userId: 'u1', integration: services, context: parseRepositoryUrl(repoUrl, parseOptions) });

      const figures: Figure[] = [];
      const parseTimes: number[] = [];
      for (const form of forms) {
        await form.direct();
        const directSamples: number[] = [];
        const samples = { cold: [] as number[], warm: [] as number[], coldCalls: 0, warmCalls: 0, warmCached: true };
        for (let i = 0; i < repeats; i++) {
          // Interleaved with the runner's resolutions, so load from elsewhere hits both alike.
          const directStart = nowMs();
          await form.direct();
          directSamples.push(nowMs() - directStart);
          const handler = newHandlers()['resolve-context']!;
          for (const phase of ['cold', 'warm'] as const) {
            const start = nowMs();
            const context = parseRepositoryUrl(form.url, parseOptions);
            if (phase === 'cold') parseTimes.push(nowMs() - start);
            const answer = (await handler({ userId: 'u1', integration: form.integration, context })) as Answer;
            samples[phase].push(nowMs() - start);
            if (phase === 'cold') samples.coldCalls = Math.max(samples.coldCalls, answer.calls);
            else {
              samples.warmCalls = Math.max(samples.warmCalls, answer.calls);
              samples.warmCached &&= answer.cached;
            }
          }
        }
        const oneCall = summarize(directSamples).p50;
        for (const phase of ['cold', 'warm'] as const) {
          const ms = summarize(samples[phase]).p50;
          const calls = phase === 'cold' ? samples.coldCalls : samples.warmCalls;
          const expected = phase === 'cold' ? form.cold : form.warm;
          figures.push({
            name: `${form.label}, ${phase}`,
            value: ms,
            unit: 'ms',
            detail: `${calls} call${calls === 1 ? '' : 's'}`,
            baseline: { value: oneCall, label: 'same calls sent directly' },
            ratio: ms / oneCall,
            target: `≤ ${expected} call${expected === 1 ? '' : 's'}`,
            met: calls <= expected,
            kind: 'performance',
          });
        }
      }
      figures.push({ name: 'parse alone (every form), p50', value: summarize(parseTimes).p50 * 1000, unit: 'µs', kind: 'info' });
      return {
        id: ID,
        title: TITLE,
        figures,
        notes: [
          `ms are the p50 of ${repeats} resolutions (parse + token lookup + API calls); "cold" is a fresh runner cache, "warm" the same request again within the cache TTL.`,
          'Baseline per form: the same Azure DevOps calls sent straight from a client, in parallel, in this run; the ratio is what parsing, the token lookup and the handler add (cold) or save (warm).',
          'Branch, tag and pull request reads are slow in the emulator itself (it runs git for refs), which the baseline shows as well.',
        ],
      };
    } finally {
      await pieces.close();
      await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
