import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

// Where the web UI sends a signed-in person (web/src/landing.ts), run in Node with a Map standing in
// for the browser's localStorage. The e2e journeys check the same in Chromium.

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

const storage = new MemoryStorage();
(globalThis as unknown as { window: { localStorage: MemoryStorage } }).window = { localStorage: storage };
const { homeFor, landingFor, lastPage, rememberPage, safeNext } = await import('../../web/src/landing.ts');

const member = { user: { id: 'usr_m' }, role: 'member' as const };
const admin = { user: { id: 'usr_a' }, role: 'admin' as const };

describe('web landing', () => {
  beforeEach(() => storage.items.clear());

  it('lands members on Open a repository and admins on Runners', () => {
    assert.equal(homeFor('member'), '/open');
    assert.equal(homeFor('admin'), '/runners');
    assert.equal(landingFor(member, null), '/open');
    assert.equal(landingFor(admin, null), '/runners');
  });

  it('lands a member on their own last page, an admin on Runners', () => {
    rememberPage('usr_m', '/projects/prj_1');
    rememberPage('usr_a', '/environments');
    assert.equal(landingFor(member, null), '/projects/prj_1');
    assert.equal(landingFor({ user: { id: 'usr_other' }, role: 'member' }, null), '/open', 'per user');
    assert.equal(landingFor(admin, null), '/runners');
  });

  it('keeps ?next= first', () => {
    rememberPage('usr_m', '/environments');
    assert.equal(landingFor(member, '/authorizations?x=1'), '/authorizations?x=1');
    assert.equal(landingFor(admin, '/audit-log'), '/audit-log');
  });

  it('never sends anyone off-site or back to sign-in', () => {
    for (const bad of [
      'https://evil.test/',
      '//evil.test',
      '/\\evil.test',
      '/\tevil',
      'javascript:alert(1)',
      'evil',
      '/',
      '/sign-in',
      '/sign-in?next=/runners',
      '/sign-in/link',
      '',
      null,
    ]) {
      assert.equal(safeNext(bad), null, String(bad));
      assert.equal(landingFor(member, bad), '/open', String(bad));
    }
    assert.equal(safeNext('/sign-inside'), '/sign-inside', 'only the sign-in pages themselves');
  });

  it('remembers only plain in-app paths, and distrusts what storage holds', () => {
    rememberPage('usr_m', '/sign-in');
    rememberPage('usr_m', '/');
    rememberPage('usr_m', '/audit-log');
    assert.equal(lastPage('usr_m'), null, 'sign-in, the root and admin-only pages are not kept');
    for (const planted of ['//evil.test', 'https://evil.test', '/sign-in/link', '/members']) {
      storage.setItem('keyway:last-page:usr_m', planted);
      assert.equal(landingFor(member, null), '/open', planted);
    }
  });
});
