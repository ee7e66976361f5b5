// For the browser tests (test/e2e): the plane a suite starts once, and the steps suites share.
import { started } from '../../emulator/testkit-hooks.ts';
import { startE2E, type E2E, type OpenPage } from '../e2e/support.ts';

/**
 * startE2E(options) in the suite's `before`, then `setUp` (which may already use the handle), closed in
 * `after`; the handle reads through to the started E2E.
 */
export function startedE2E(options: Parameters<typeof startE2E>[0] = {}, setUp?: () => unknown): E2E {
  return started(
    () => startE2E(options),
    (e2e) => e2e.close(),
    setUp,
  );
}

/** A new page signed in as the admin through the one-time link, landed on Runners. */
export async function adminOnRunners(e2e: E2E): Promise<OpenPage> {
  const open = await e2e.newPage();
  await open.page.goto(e2e.signInLink);
  await open.page.waitForURL(`${e2e.url}/runners`);
  return open;
}
