// End-to-end harness: a real `keyway start` (from source, SQLite in a temporary data directory), the
// built web UI it serves, and Debian's Chromium driven by playwright-core.
//
// - Chromium is /usr/bin/chromium (KEYWAY_E2E_CHROMIUM overrides). Missing: the suites skip with a
//   message, except under CI=true, where they fail.
// - Every request the browser sends is captured in `requests`, for secret checks.
// - Screenshots go to test-results/screenshots/<name>.png.
// - axe-core runs in the page under the app's real CSP: it is served same-origin through a route,
//   because an inline <script> (what addScriptTag({ path }) injects) is exactly what the CSP forbids.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, request as playwrightRequest } from 'playwright-core';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { startCli } from '../support/cli.ts';
import type { RunningCli } from '../support/cli.ts';

export const CHROMIUM = process.env.KEYWAY_E2E_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCREENSHOTS = join(ROOT, 'test-results', 'screenshots');
const AXE_PATH = join(ROOT, 'node_modules', 'axe-core', 'axe.min.js');
const AXE_URL_PATH = '/__e2e__/axe.min.js';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** For describe(..., { skip }): a reason to skip when Chromium is missing outside CI. */
export function e2eSkip(): string | false {
  if (existsSync(CHROMIUM) || process.env.CI === 'true') return false;
  return `end-to-end UI tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set KEYWAY_E2E_CHROMIUM)`;
}

export interface CapturedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

export interface OpenPage {
  context: BrowserContext;
  page: Page;
  /** Content-Security-Policy violations and uncaught page errors seen so far. */
  problems: string[];
}

/** What `keyway start --demo` printed: the Keyway member, the emulator's Entra user and PAT, the demo repository. */
export interface DemoInfo {
  memberEmail: string;
  memberPassword: string;
  entraUpn: string;
  entraPassword: string;
  pat: string;
  /** The emulator tenant's Directory (tenant) ID, for oauth app connections. */
  tenantId: string;
  /** The demo Azure DevOps organization (keyway-demo). */
  organization: string;
  repositoryUrl: string;
  pullRequestUrl: string;
}

export interface E2E {
  url: string;
  /** Set when started with `{ demo: true }`. */
  demo?: DemoInfo;
  /** The one-time admin sign-in link `keyway start` printed. */
  signInLink: string;
  adminEmail: string;
  /** Keyway's data directory (the local runner's key is runner-key.json in it). */
  dataDir: string;
  keyway: RunningCli;
  browser: Browser;
  /** Every request any page of this harness sent (URL, headers, body). */
  requests: CapturedRequest[];
  newPage(options?: { width?: number; height?: number }): Promise<OpenPage>;
  screenshot(page: Page, name: string): Promise<void>;
  /** Runs axe-core on the page as it is; fails on serious or critical violations. */
  checkA11y(page: Page, label: string): Promise<void>;
  close(): Promise<void>;
}

/** Builds web/dist if it is missing or stale (the test runner does this once before all files). */
export function ensureWebBuilt(): void {
  const result = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs'), '--if-stale'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0) throw new Error(`building the web UI failed:\n${result.stdout}\n${result.stderr}`);
}

/** Parses the lines `keyway start --demo` prints after the sign-in link (src/cli/demo.ts). */
async function demoInfo(keyway: RunningCli): Promise<DemoInfo> {
  const [, repositoryUrl, pullRequestUrl] = (await keyway.waitFor(
    /open (https:\/\/\S+) \(or its pull request 1: (https:\/\/\S+)\)/,
  )) as RegExpMatchArray & [string, string, string];
  const text = keyway.output();
  const line = (pattern: RegExp): RegExpMatchArray => {
    const m = text.match(pattern);
    if (!m) throw new Error(`keyway start --demo did not print ${pattern}; output:\n${text}`);
    return m;
  };
  const [, memberEmail, memberPassword] = line(/Keyway member: (\S+) \/ (\S+)/) as RegExpMatchArray & [string, string, string];
  const [, entraUpn, entraPassword] = line(/Entra ID user \(pick it on the emulator's sign-in page\): (\S+) \/ (\S+)/) as RegExpMatchArray &
    [string, string, string];
  const [, pat] = line(/A PAT for that user: (\S+)/) as RegExpMatchArray & [string, string];
  const [, tenantId, organization] = line(
    /Directory \(tenant\) ID for oauth app connections: (\S+) \(organization (\S+)\)/,
  ) as RegExpMatchArray & [string, string, string];
  return { memberEmail, memberPassword, entraUpn, entraPassword, pat, tenantId, organization, repositoryUrl, pullRequestUrl };
}

export async function startE2E(options: { demo?: boolean; env?: Record<string, string> } = {}): Promise<E2E> {
  if (!existsSync(CHROMIUM))
    throw new Error(`CI=true and no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set KEYWAY_E2E_CHROMIUM`);
  ensureWebBuilt();
  mkdirSync(SCREENSHOTS, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'keyway-e2e-'));
  const keyway = startCli(['start', '--port', '0', '--data-dir', dataDir, ...(options.demo ? ['--demo'] : [])], {
    KEYWAY_LOG_LEVEL: 'warn',
    ...options.env,
  });
  let browser: Browser | undefined;
  try {
    const [, url] = (await keyway.waitFor(/Keyway is running at (http\S+)/)) as RegExpMatchArray & [string, string];
    const [, signInLink] = (await keyway.waitFor(/(http\S+\/sign-in\/link#token=\S+)/)) as RegExpMatchArray & [string, string];
    const demo = options.demo ? await demoInfo(keyway) : undefined;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const axeSource = readFileSync(AXE_PATH, 'utf8');
    const requests: CapturedRequest[] = [];
    const contexts: BrowserContext[] = [];
    const launched = browser;

    return {
      url,
      ...(demo ? { demo } : {}),
      signInLink,
      adminEmail: 'admin@keyway.local',
      dataDir,
      keyway,
      browser: launched,
      requests,
      async newPage(options = {}) {
        const context = await launched.newContext({
          viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
          baseURL: url,
        });
        contexts.push(context);
        // Fail a step in seconds, not Playwright's default 30 s: the whole suite should take under a minute.
        context.setDefaultTimeout(10_000);
        await context.route(`${url}${AXE_URL_PATH}`, (route) => route.fulfill({ contentType: 'text/javascript', body: axeSource }));
        context.on('request', (request) => {
          if (request.url().endsWith(AXE_URL_PATH)) return;
          requests.push({ method: request.method(), url: request.url(), headers: request.headers(), body: request.postData() });
        });
        const page = await context.newPage();
        const problems: string[] = [];
        page.on('console', (message) => {
          if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
        });
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        return { context, page, problems };
      },
      async screenshot(page, name) {
        // A modal sits in the viewport: a full-page shot would show it over a stretched page.
        const modal = await page.evaluate(() => document.querySelector('dialog[open]') !== null);
        await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: !modal });
      },
      async checkA11y(page, label) {
        const loaded = await page.evaluate(() => 'axe' in window);
        if (!loaded) await page.addScriptTag({ url: AXE_URL_PATH });
        const violations = await page.evaluate(async () => {
          // axe-core's global, injected above.
          const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<AxeResults> } }).axe;
          const result = await axe.run(document, { resultTypes: ['violations'] });
          return result.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`),
          }));
        });
        const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        assert.deepEqual(
          blocking,
          [],
          `${label}: axe-core found serious or critical accessibility violations:\n${JSON.stringify(blocking, null, 2)}`,
        );
      },
      async close() {
        for (const context of contexts) await context.close().catch(() => undefined);
        await launched.close().catch(() => undefined);
        await keyway.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await browser?.close().catch(() => undefined);
    await keyway.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

interface AxeResults {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[]; failureSummary?: string }[] }[];
}

/** Waits until `locator` is visible (playwright-core has no expect()). */
export async function visible(locator: Locator, timeout = 10_000): Promise<Locator> {
  await locator.first().waitFor({ state: 'visible', timeout });
  return locator;
}

/** Waits until `locator` matches nothing visible. */
export async function gone(locator: Locator, timeout = 10_000): Promise<void> {
  await locator.first().waitFor({ state: 'hidden', timeout });
}

/** The page has no horizontal scrollbar: usable at narrow widths. */
export async function assertNoHorizontalScroll(page: Page, label: string): Promise<void> {
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  }));
  assert.ok(scrollWidth <= clientWidth + 1, `${label}: the page scrolls sideways (${scrollWidth}px of content in ${clientWidth}px)`);
}

/** What the focused element is, for keyboard and dialog checks. */
export async function focused(page: Page): Promise<{ tag: string; text: string; label: string | null; inDialog: boolean }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return {
      tag: el?.tagName.toLowerCase() ?? '',
      text: (el?.textContent ?? '').trim(),
      label: el?.getAttribute('aria-label') ?? null,
      inDialog: Boolean(el?.closest('dialog[open]')),
    };
  });
}

/** The local runner's private key (runner-key.json in the data directory), to open what the browser sealed. */
export function runnerPrivateKey(dataDir: string): string {
  return (JSON.parse(readFileSync(join(dataDir, 'runner-key.json'), 'utf8')) as { privateKey: string }).privateKey;
}

/**
 * The demo integration as `keyway start --demo` stored it, with its OAuth client secret opened with the
 * local runner's key: the canary the browser must never send in clear (the demo prints no secret).
 */
export async function demoIntegration(dataDir: string): Promise<{ id: string; clientId: string; issuerUrl: string; clientSecret: string }> {
  const { default: Database } = await import('better-sqlite3');
  const { open } = await import('../../src/crypto/sealing.ts');
  const db = new Database(join(dataDir, 'management.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare(
        "SELECT id, oauth_client_id, oauth_issuer_url, oauth_client_secret_sealed FROM scm_integrations WHERE host = 'dev.azure.com'",
      )
      .get() as { id: string; oauth_client_id: string; oauth_issuer_url: string; oauth_client_secret_sealed: string } | undefined;
    if (!row?.oauth_client_secret_sealed) throw new Error('demo mode stored no dev.azure.com integration with a client secret');
    const clientSecret = await open(
      runnerPrivateKey(dataDir),
      row.oauth_client_secret_sealed,
      `scm-integration:${row.id}:oauth-client-secret`,
    );
    return { id: row.id, clientId: row.oauth_client_id, issuerUrl: row.oauth_issuer_url, clientSecret };
  } finally {
    db.close();
  }
}

/**
 * Adds a person the way Keyway lets an admin: an invitation, accepted by the person creating their
 * account through its link (in a request context of its own, so the admin's session is untouched).
 */
export async function inviteAndRegister(
  admin: Page,
  baseUrl: string,
  person: { email: string; name: string; password: string; role?: 'admin' | 'member' },
): Promise<string> {
  const me = (await (await admin.request.get(`${baseUrl}/api/v1/me`)).json()) as { csrfToken: string };
  const invited = await admin.request.post(`${baseUrl}/api/v1/invitations`, {
    headers: { 'x-csrf-token': me.csrfToken },
    data: { email: person.email, role: person.role ?? 'member' },
  });
  assert.equal(invited.status(), 201, await invited.text());
  const token = new URL(((await invited.json()) as { url: string }).url).hash.replace('#token=', '');
  const context = await playwrightRequest.newContext({ baseURL: baseUrl });
  try {
    const registered = await context.post('/api/v1/invitations/register', {
      data: { token, displayName: person.name, password: person.password },
    });
    assert.equal(registered.status(), 200, await registered.text());
    const who = (await (await context.get('/api/v1/me')).json()) as { user: { id: string } };
    return who.user.id;
  } finally {
    await context.dispose();
  }
}
