import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import { startTracing } from './tracing.ts';
import { eventually, settledEnvironment, startPlaneWithRunner } from '../../test/support/plane.ts';
import type { TestPlane, TestRunner } from '../../test/support/plane.ts';
import { consentAtEntra, deliverCallback, saveOAuthIntegration, startConnect } from '../../test/support/oauth.ts';
import { startEmulator } from '../../emulator/index.ts';
import { seedWebRepository } from '../../test/support/integration-bed.ts';
import type { EmulatorHandle, User } from '../../emulator/index.ts';
import { register } from 'prom-client';
import { expireStoredAccessToken } from '../../test/support/runner-credentials.ts';

const HOME = mkdtempSync(join(tmpdir(), 'keyway-trace-home-'));
const GIT_ENV = { ...process.env, HOME, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: devNull, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };

function git(args: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('git', args, { cwd, env: GIT_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe('OpenTelemetry traces: one trace per journey, across the control channel, the credential socket and the emulator', () => {
  const exporter = new InMemorySpanExporter();
  let stopTracing: () => Promise<void>;
  let emu: EmulatorHandle;
  let plane: TestPlane;
  let runner: TestRunner;
  let member: User;
  let runnerId: string;
  let integrationId: string;
  let clientSecret: string;
  const webUrl = 'https://dev.azure.com/fabrikam/Web/_git/web';

  before(async () => {
    // Before anything opens a database or a server: what is created afterwards is traced.
    stopTracing = startTracing({ serviceName: 'keyway-test', exporter, env: {} });
    emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
    member = await seedWebRepository(emu, 'fabrikam', { commits: 5, user: 'member' });
    const registered = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'Keyway', redirectUris: [] });
    clientSecret = registered.clientSecret;
    ({ plane, runner, runnerId } = await startPlaneWithRunner('sqlite', emu, {
      name: 'traced',
      plane: { azureDevOpsServicesUrl: emu.urls.services },
      runner: { extra: { environmentOptions: { progressIntervalMs: 0 } } },
    }));
    ({ integrationId } = await saveOAuthIntegration(plane, emu, runnerId, { app: registered }));
    const { callback } = await consentAtEntra(emu, await startConnect(plane.memberBrowser, integrationId), member.upn);
    assert.equal((await deliverCallback(plane.memberBrowser, callback)).ok, true);
  });
  after(async () => {
    await runner?.stop();
    await plane?.close();
    await emu?.close();
    await stopTracing?.();
  });

  const spans = () => exporter.getFinishedSpans();
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
  const byId = (id: string | undefined) => spans().find((s) => s.spanContext().spanId === id);
  /** The chain of names from `span` up to its trace's root. */
  function ancestry(span: ReadableSpan): string[] {
    const names = [span.name];
    for (let at = byId(parentOf(span)); at; at = byId(parentOf(at))) names.push(at.name);
    return names;
  }

  let workspacePath: string;

  it('creating an environment: the API request, the control request on the runner and git clone are one trace', async () => {
    // Over real HTTP, as a browser would: the management plane's server span starts the trace.
    const res = await fetch(`${plane.url}/api/v1/environments`, {
      method: 'POST',
      headers: { cookie: plane.memberBrowser.cookie, 'x-csrf-token': plane.memberBrowser.csrfToken, 'content-type': 'application/json' },
      body: JSON.stringify({ contextUrl: webUrl, runnerId }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const id = ((await res.json()) as { id: string }).id;
    const env = await settledEnvironment(plane.memberBrowser, id, 'clone');
    assert.equal(env.status, 'ready');
    workspacePath = env.workspacePath;
    const clone = await eventually(async () => spans().find((s) => s.name === 'git clone'), 'git clone span');
    const control = spans().find((s) => s.name === 'control environment-create');
    assert.ok(control, 'the runner traced the control request');
    assert.equal(control.spanContext().traceId, clone.spanContext().traceId);
    assert.ok(
      ancestry(clone).includes('control environment-create'),
      `git clone under the control request: ${ancestry(clone).join(' < ')}`,
    );
    // The control request's parent is on the management plane: its database insert of the request, under the API call.
    const inTrace = spans().filter((s) => s.spanContext().traceId === clone.spanContext().traceId);
    const api = inTrace.find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/api/v1/environments');
    assert.ok(api, `the API request is in the trace: ${inTrace.map((s) => s.name).join(', ')}`);
    assert.equal(ancestry(clone).at(-1), api.name, `the trace starts at the API request: ${ancestry(clone).join(' < ')}`);
    assert.ok(
      inTrace.some((s) => s.attributes['db.system'] === 'sqlite' && s.name.startsWith('INSERT runner_requests')),
      'the control request row written in the same trace',
    );
  });

  it("a git fetch after the token expired: one trace from the credential socket through the runner's database to Entra ID in the emulator", async () => {
    emu.entra.faults.expireAccessTokensNow();
    const record = await runner.runtime.credentials.findForIntegration({ type: 'user', id: plane.member.id }, integrationId);
    assert.ok(record);
    await expireStoredAccessToken(runner.store.database.db, record.id, 60_000);
    exporter.reset();
    const fetched = await git(['fetch', 'origin'], workspacePath);
    assert.equal(fetched.code, 0, fetched.stderr);

    const root = await eventually(
      async () => spans().find((s) => s.name === 'git credential get' && s.attributes['keyway.credential.status'] === 200),
      'credential span',
    );
    const trace = spans().filter((s) => s.spanContext().traceId === root.spanContext().traceId);
    const tokenCall = trace.find((s) => s.kind === SpanKind.CLIENT && /POST/.test(s.name) && !s.attributes['db.system']);
    assert.ok(tokenCall, `the refresh request to Entra ID is in the trace: ${trace.map((s) => s.name).join(', ')}`);
    assert.ok(
      ancestry(tokenCall).at(-1) === 'git credential get',
      `it descends from the credential request: ${ancestry(tokenCall).join(' < ')}`,
    );
    const atEmulator = trace.find((s) => s.kind === SpanKind.SERVER && parentOf(s) === tokenCall.spanContext().spanId);
    assert.ok(atEmulator, "the emulator's token endpoint answered within the same trace");
    assert.ok(
      trace.some((s) => s.attributes['db.system'] === 'sqlite' && /credentials/.test(s.name)),
      'the credential row read in the same trace',
    );

    // No secret in any span: not the client secret, not a token.
    const token = await runner.runtime.tokens.getAccessToken(plane.member.id, integrationId);
    const everything = JSON.stringify(spans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })));
    assert.ok(!everything.includes(clientSecret), 'client secret in a span');
    assert.ok(!everything.includes(token.token), 'access token in a span');
  });

  it("query strings never reach a span: an OAuth callback's code and state are redacted", async () => {
    exporter.reset();
    const res = await fetch(`${plane.url}/api/v1/oauth/callback/${integrationId}?code=secret-code-value&state=secret-state-value`);
    await res.text();
    await eventually(async () => spans().some((s) => s.kind === SpanKind.SERVER), 'server span');
    const text = JSON.stringify(spans().map((s) => s.attributes));
    assert.ok(!text.includes('secret-code-value') && !text.includes('secret-state-value'), text);
  });

  it('the runner counts credential requests, refreshes by outcome and Azure DevOps calls by operation and status', async () => {
    const metrics = await register.metrics();
    assert.match(metrics, /keyway_runner_credential_requests_total\{status="200"\} [1-9]/);
    assert.match(metrics, /keyway_runner_token_refreshes_total\{outcome="success"\} [1-9]/);
    assert.match(metrics, /keyway_runner_azure_devops_requests_total\{operation="[^"]+",status="200"\} [1-9]/);
    const served = await plane.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(served.body, /keyway_runner_credential_requests_total/, "keyway start's /metrics includes the runner's");
  });
});
