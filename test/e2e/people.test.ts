import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { assertNoHorizontalScroll, e2eSkip, focused, gone, inviteAndRegister, visible } from './support.ts';
import { startedE2E } from '../support/e2e-session.ts';
import type { DemoInfo } from './support.ts';

// People in the UI, against `keyway start --demo`: where each role lands after signing in, project
// members managed by a project owner who is not an admin (add, change the role, remove with a
// confirmation, the last owner kept), what a plain project member sees (the list, no controls),
// and the admin's audit log filtered by actor and action group, with names beside ids.

const PAT = { email: 'pat@keyway.local', name: 'Pat Partner', password: `pat-${randomBytes(9).toString('hex')}` };
const DEMO_NAME = 'Demo Developer';
/** What `keyway start` names its first admin. */
const ADMIN_NAME = 'Administrator';

async function heading(page: Page, name: string, level = 1) {
  return visible(page.getByRole('heading', { level, name, exact: true }));
}

async function signIn(page: Page, email: string, password: string) {
  await page.goto('/sign-in');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await heading(page, 'Sign in');
}

describe('web UI: people (landing, project members, audit log)', { skip: e2eSkip() }, () => {
  let demo: DemoInfo;
  let admin: Page;
  let owner: Page;
  let projectPath = '';

  const membersSection = (page: Page) => page.getByRole('region', { name: 'Members', exact: true });

  const e2e = startedE2E({ demo: true }, async () => {
    demo = e2e.demo!;
    admin = (await e2e.newPage()).page;
    owner = (await e2e.newPage()).page;
  });

  it('lands an admin on Runners; the brand link goes there too', async () => {
    await admin.goto(e2e.signInLink);
    await admin.waitForURL(`${e2e.url}/runners`);
    await heading(admin, 'Runners');
    assert.equal(await admin.getByRole('link', { name: 'Keyway' }).getAttribute('href'), '/runners');
    // A third person for the project: invited, and accepting by creating their account.
    await inviteAndRegister(admin, e2e.url, { email: PAT.email, name: PAT.name, password: PAT.password });
  });

  it('the admin creates a project and makes the demo member its owner', async () => {
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
    await admin.getByLabel('Project name').fill('Payments');
    await admin.getByRole('button', { name: 'Create project' }).click();
    await heading(admin, 'Payments');
    projectPath = new URL(admin.url()).pathname;
    const section = membersSection(admin);
    await visible(section.getByRole('cell', { name: e2e.adminEmail }));
    await section.getByRole('button', { name: 'Add a member' }).click();
    const dialog = await visible(admin.getByRole('dialog', { name: 'Add a member to Payments' }));
    assert.equal((await focused(admin)).inDialog, true, 'focus moves into the dialog');
    // Nothing picked: said next to the field, nothing sent.
    await dialog.getByRole('button', { name: 'Add to project' }).click();
    await visible(dialog.getByText('Pick the person to add.'));
    await dialog.getByLabel('Person').selectOption({ label: `${DEMO_NAME} (${demo.memberEmail})` });
    await dialog.getByLabel('Project role').selectOption('owner');
    await dialog.getByRole('button', { name: 'Add to project' }).click();
    await gone(dialog);
    await visible(admin.getByText(`${DEMO_NAME} was added to Payments.`));
    assert.equal(await section.getByLabel(`Project role of ${DEMO_NAME}`).inputValue(), 'owner');
  });

  it('lands a member on Open a repository; the brand link goes there too', async () => {
    await signIn(owner, demo.memberEmail, demo.memberPassword);
    await owner.waitForURL(`${e2e.url}/open`);
    await heading(owner, 'Open a repository');
    assert.equal(await owner.getByRole('link', { name: 'Keyway' }).getAttribute('href'), '/open');
    await e2e.screenshot(owner, 'landing-member');
  });

  it('a project owner who is not an admin adds a member', async () => {
    await owner.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
    await owner.getByRole('link', { name: 'Payments' }).click();
    await heading(owner, 'Payments');
    const section = membersSection(owner);
    await visible(section.getByRole('cell', { name: demo.memberEmail }));
    await section.getByRole('button', { name: 'Add a member' }).click();
    const dialog = await visible(owner.getByRole('dialog', { name: 'Add a member to Payments' }));
    assert.equal(
      await owner.evaluate(() => (document.activeElement as HTMLSelectElement | null)?.name),
      'userId',
      'focus starts on the person to pick',
    );
    // The list is fetched when the dialog opens: wait for it, not for the "Loading…" placeholder.
    await dialog.getByLabel('Person').locator('option', { hasText: PAT.email }).waitFor({ state: 'attached' });
    const people = await dialog.getByLabel('Person').locator('option').allTextContents();
    assert.deepEqual(people, ['Pick a person…', `${PAT.name} (${PAT.email})`], 'only organization members not in the project yet');
    await e2e.screenshot(owner, 'project-member-add');
    await e2e.checkA11y(owner, 'add a project member');
    await dialog.getByLabel('Person').selectOption({ label: `${PAT.name} (${PAT.email})` });
    await dialog.getByRole('button', { name: 'Add to project' }).click();
    await gone(dialog);
    await visible(owner.getByText(`${PAT.name} was added to Payments.`));
    assert.equal(await section.getByLabel(`Project role of ${PAT.name}`).inputValue(), 'member');
    await e2e.screenshot(owner, 'project-members-owner');
    await e2e.checkA11y(owner, 'project members (owner)');
  });

  it('a plain project member sees the members and no controls', async () => {
    const { page } = await e2e.newPage();
    await signIn(page, PAT.email, PAT.password);
    await page.waitForURL(`${e2e.url}/open`);
    await page.goto(projectPath);
    await heading(page, 'Payments');
    const section = membersSection(page);
    for (const email of [e2e.adminEmail, demo.memberEmail, PAT.email]) await visible(section.getByRole('cell', { name: email }));
    await visible(section.getByText('Ask an owner of the project to add or remove someone.'));
    assert.equal(await section.getByRole('button').count(), 0, 'no Add or Remove buttons');
    assert.equal(await section.getByRole('combobox').count(), 0, 'no role pickers');
    await visible(section.getByRole('cell', { name: 'Owner', exact: true }).first());
    await e2e.screenshot(page, 'project-members-read-only');
    await e2e.checkA11y(page, 'project members (plain member)');
    await page.setViewportSize({ width: 400, height: 860 });
    await assertNoHorizontalScroll(page, 'project members at 400 px');
    await page.context().close();
  });

  it('the owner changes a role, keeps the last owner, and removes a member after confirming', async () => {
    const section = membersSection(owner);
    await section.getByLabel(`Project role of ${PAT.name}`).selectOption('owner');
    await visible(owner.getByText(`${PAT.name} is now an owner of Payments.`));
    await section.getByLabel(`Project role of ${PAT.name}`).selectOption('member');
    await visible(owner.getByText(`${PAT.name} is now a member of Payments.`));

    // The admin steps down as project owner; then the demo member is the last owner and cannot.
    await section.getByLabel(`Project role of ${ADMIN_NAME}`).selectOption('member');
    await visible(owner.getByText(`${ADMIN_NAME} is now a member of Payments.`));
    await section.getByLabel(`Project role of ${DEMO_NAME}`).selectOption('member');
    const refused = await visible(owner.getByRole('alert').filter({ hasText: 'at least one owner' }));
    assert.match(
      (await refused.textContent()) ?? '',
      /is still an owner: A project needs at least one owner; make someone else owner first/,
    );
    await visible(section.getByLabel(`Project role of ${DEMO_NAME}`));
    assert.equal(await section.getByLabel(`Project role of ${DEMO_NAME}`).inputValue(), 'owner', 'the list shows what the server kept');
    await e2e.screenshot(owner, 'project-members-last-owner');

    await section.getByRole('button', { name: `Remove ${PAT.name} from the project` }).click();
    const confirm = await visible(owner.getByRole('dialog', { name: `Remove ${PAT.name} from Payments?` }));
    assert.equal((await focused(owner)).text, 'Cancel', 'Cancel is focused first');
    await e2e.checkA11y(owner, 'remove a project member');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await gone(confirm);
    await visible(section.getByRole('cell', { name: PAT.email }));
    await section.getByRole('button', { name: `Remove ${PAT.name} from the project` }).click();
    await owner
      .getByRole('dialog', { name: `Remove ${PAT.name} from Payments?` })
      .getByRole('button', { name: 'Remove from project' })
      .click();
    await visible(owner.getByText(`${PAT.name} was removed from Payments.`));
    await gone(section.getByRole('cell', { name: PAT.email }));
  });

  it('brings the member back to their last page after signing in again', async () => {
    await signOut(owner);
    await signIn(owner, demo.memberEmail, demo.memberPassword);
    await owner.waitForURL(`${e2e.url}${projectPath}`);
    await heading(owner, 'Payments');
    // ?next= still wins.
    await signOut(owner);
    await owner.goto('/sign-in?next=%2Fenvironments');
    await owner.getByLabel('Email').fill(demo.memberEmail);
    await owner.getByLabel('Password').fill(demo.memberPassword);
    await owner.getByRole('button', { name: 'Sign in', exact: true }).click();
    await owner.waitForURL(`${e2e.url}/environments`);
  });

  it('the admin filters the audit log by actor and action group and sees names beside ids', async () => {
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await heading(admin, 'Audit log');
    const filters = admin.getByRole('search', { name: 'Filter the audit log' });
    const actor = filters.getByLabel('Actor');
    // Options are never "visible" to Playwright: wait until the pickers are filled.
    await actor.locator('option', { hasText: `${DEMO_NAME} (${demo.memberEmail})` }).waitFor({ state: 'attached' });
    await actor.locator('option', { hasText: /^local$/ }).waitFor({ state: 'attached' });
    await actor.selectOption({ label: `${DEMO_NAME} (${demo.memberEmail})` });
    await filters.getByLabel('Action group').selectOption('project');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await admin.waitForURL(/\/audit-log\?actor=user%3A[^&]+&group=project$/);
    assert.equal((await focused(admin)).text, 'Apply filters', 'focus stays where it was');

    const table = admin.getByRole('table');
    const rows = table.locator('tbody tr');
    // The address changes before the filtered rows arrive: wait for the table to show them.
    await admin.waitForFunction(() => {
      const cells = Array.from(document.querySelectorAll('tbody tr td:nth-child(3)'));
      return cells.length > 0 && cells.every((cell) => cell.textContent?.startsWith('project.'));
    });
    // Two role changes, the refused last-owner change (a failure), the add and the removal: by the demo member only.
    const actions = await rows.locator('td:nth-child(3)').allTextContents();
    assert.deepEqual(actions, [
      'project.member.remove',
      'project.member.set',
      'project.member.set',
      'project.member.set',
      'project.member.set',
      'project.member.set',
    ]);
    const outcomes = await rows.locator('td:nth-child(5)').allTextContents();
    assert.deepEqual(
      outcomes.map((o) => o.trim()).filter((o) => o !== 'success'),
      ['failure'],
      outcomes.join(', '),
    );
    const actors = await rows.locator('td:nth-child(2) strong').allTextContents();
    assert.ok(
      actors.every((a) => a === DEMO_NAME),
      actors.join(', '),
    );
    const targets = await rows.locator('td:nth-child(4) strong').allTextContents();
    assert.ok(
      targets.every((t) => t === 'Payments'),
      targets.join(', '),
    );
    await visible(rows.first().locator('td:nth-child(4) code').filter({ hasText: /^prj_/ }));
    await e2e.screenshot(admin, 'audit-log-filtered');
    await e2e.checkA11y(admin, 'audit log (filtered)');

    // Runners, by group: the local runner registered itself, named.
    await actor.selectOption('');
    await filters.getByLabel('Action group').selectOption('runner');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await admin.waitForURL(/\/audit-log\?group=runner$/);
    await visible(rows.locator('td:nth-child(3)', { hasText: 'runner.' }).first());
    const runnerActions = await rows.locator('td:nth-child(3)').allTextContents();
    assert.ok(runnerActions.length > 0 && runnerActions.every((a) => a.startsWith('runner.')), runnerActions.join(', '));

    // A "To" day before the "From" day is explained next to the field; nothing is applied.
    await filters.getByLabel('From', { exact: true }).fill('2025-03-10');
    await filters.getByLabel('To', { exact: true }).fill('2025-03-01');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await visible(filters.getByText('The "To" day is before the "From" day; pick a later day.'));
    assert.equal(await filters.getByLabel('To', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.match(admin.url(), /\/audit-log\?group=runner$/);
    await e2e.checkA11y(admin, 'audit log (a filter error)');

    // Back undoes the last filter; Clear shows everything.
    await admin.goBack();
    await admin.waitForURL(/actor=user/);
    assert.equal(await filters.getByLabel('Action group').inputValue(), 'project');
    await filters.getByRole('button', { name: 'Clear filters' }).click();
    await admin.waitForURL(`${e2e.url}/audit-log`);
    assert.equal(await filters.getByLabel('Action group').inputValue(), '');
    assert.equal((await focused(admin)).text, 'Apply filters', 'the keyboard stays in the form when Clear goes away');
    await admin.setViewportSize({ width: 400, height: 860 });
    await assertNoHorizontalScroll(admin, 'audit log at 400 px');
    await e2e.screenshot(admin, 'narrow-audit-log-filters');
    await admin.setViewportSize({ width: 1280, height: 900 });
  });
});
