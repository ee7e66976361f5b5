import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { identityFromClaims, roleFromClaims } from './claims.ts';

const admins = 'aaaaaaaa-0000-4000-8000-000000000001';
const devs = 'dddddddd-0000-4000-8000-000000000002';

describe('single sign-on claims', () => {
  it('keys Entra identities on the object id and tenant, never on email', () => {
    const read = identityFromClaims('entra', {
      iss: 'https://login.example/t1/v2.0',
      sub: 'pairwise',
      oid: 'OID-1',
      tid: 'T1',
      email: 'Boss@Example.com',
      preferred_username: 'other@example.com',
      iat: 1_700_000_000,
    });
    assert.ok(!('error' in read));
    assert.equal(read.subject, 'OID-1');
    assert.equal(read.tenantId, 't1');
    assert.equal(read.email, 'boss@example.com');
    assert.equal(read.verifiedEmail, undefined, 'Entra email is never treated as verified');
    assert.equal(read.authTime.getTime(), 1_700_000_000_000);
    assert.deepEqual(identityFromClaims('entra', { iss: 'x', sub: 'pairwise' }), {
      error: 'the ID token has no oid claim; the sign-in must request the profile scope',
    });
  });

  it("trusts another provider's email only when it says it verified it", () => {
    const verified = identityFromClaims('oidc', {
      iss: 'https://idp',
      sub: 's1',
      email: 'a@corp.example',
      email_verified: true,
      auth_time: 1_700_000_100,
      iat: 1_700_000_200,
    });
    const unverified = identityFromClaims('oidc', { iss: 'https://idp', sub: 's1', email: 'a@corp.example', email_verified: 'true' });
    assert.ok(!('error' in verified) && !('error' in unverified));
    assert.equal(verified.verifiedEmail, 'a@corp.example');
    assert.equal(verified.authTime.getTime(), 1_700_000_100_000, 'auth_time wins over iat');
    assert.equal(unverified.verifiedEmail, undefined, 'a string "true" is not true');
  });

  it("sees group overage in either of Entra's two forms", () => {
    for (const claims of [{ hasgroups: true }, { _claim_names: { groups: 'src1' } }]) {
      const read = identityFromClaims('entra', { iss: 'x', oid: 'o', ...claims });
      assert.ok(!('error' in read) && read.groupsOverage);
    }
  });

  it('maps roles: admin values win, member values admit, no mapping means member, nothing else gets in', () => {
    const mapping = { claim: 'groups' as const, adminValues: [admins], memberValues: [devs] };
    assert.deepEqual(roleFromClaims({ groups: [devs, admins], groupsOverage: false }, mapping), { role: 'admin' });
    assert.deepEqual(
      roleFromClaims({ groups: [devs.toUpperCase()], groupsOverage: false }, mapping),
      { role: 'member' },
      'object ids compare without case',
    );
    assert.ok('refused' in roleFromClaims({ groups: ['someone-else'], groupsOverage: false }, mapping));
    assert.ok('refused' in roleFromClaims({ groupsOverage: false }, mapping), 'no groups claim at all is refused');
    assert.ok('refused' in roleFromClaims({ groups: [admins], groupsOverage: true }, mapping), 'overage cannot be decided from the token');
    assert.deepEqual(roleFromClaims({ groupsOverage: false }, { claim: null, adminValues: [], memberValues: [] }), { role: 'member' });
    assert.deepEqual(
      roleFromClaims({ groups: [], groupsOverage: false }, { claim: 'groups', adminValues: [admins], memberValues: [] }),
      { role: 'member' },
      'empty member values admit everyone',
    );
    const roles = { claim: 'roles' as const, adminValues: ['Keyway.Admin'], memberValues: ['Keyway.User'] };
    assert.deepEqual(
      roleFromClaims({ roles: ['Keyway.Admin'], groups: [devs], groupsOverage: true }, roles),
      { role: 'admin' },
      'app roles never overflow',
    );
    assert.ok(
      'refused' in roleFromClaims({ groups: ['Keyway.Admin'], groupsOverage: false }, roles),
      'a group named like a role is not the role',
    );
  });
});
