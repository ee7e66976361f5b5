// Case 4 of issue 14: a read-only PAT (Code (Read), no Code (Read & write)) is said to be one when
// it is stored, found through git's receive-pack advertisement (which pushes nothing); where no
// answer is possible, push rights are "not confirmed"; a later TF401027 becomes "this PAT cannot
// push". Scopes are listed as Azure DevOps reported them, or as not known.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../../../test/support/databases.ts';
import { seedWebRepository, startIntegrationBed } from '../../../test/support/integration-bed.ts';
import type { IntegrationBed } from '../../../test/support/integration-bed.ts';
import type { User } from '../../../emulator/index.ts';
import { listRefs } from '../../../emulator/git/repo.ts';
import { AzureDevOpsError } from '../../azure-devops/errors.ts';
import { classifyAzureDevOpsError } from '../repositories/access.ts';

const ORG = 'contoso';
const EMPTY_ORG = 'empty';

interface Listed {
  method: string;
  organization: string | null;
  scopes: string[];
  scopesKnown?: boolean;
  pushAccess?: string;
  pushAccessNote?: string | null;
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`PATs: push rights found without pushing, scopes never guessed (${kind})`, { skip }, () => {
    let bed: IntegrationBed;
    let alice: User;

    before(async () => {
      bed = await startIntegrationBed(kind, async (emu) => {
        alice = await seedWebRepository(emu, ORG, { commits: 1 });
        emu.world.addOrganization(EMPTY_ORG);
        emu.world.addMember(EMPTY_ORG, alice.id);
      });
    });
    after(async () => {
      await bed?.close();
    });

    async function store(scopes: string[], organization = ORG) {
      const pat = bed.emu.world.createPat(alice.id, { scopes, orgs: [organization] });
      const res = await bed.plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/scm/pat',
        payload: { integrationId: bed.integrationId, organization, token: pat.token },
      });
      assert.equal(res.statusCode, 201, res.body);
      const listed = await bed.plane.memberBrowser.request({ method: 'GET', url: '/api/v1/scm/authorizations' });
      return {
        stored: res.json() as { pushAccess: string; pushAccessNote: string | null },
        listed: (listed.json().authorizations as Listed[]).find((a) => a.method === 'pat')!,
      };
    }

    it('a read-only PAT is stored, and said to be unable to push — in the answer, the listing and the audit log', async () => {
      const repo = bed.emu.world.requireRepository(ORG, 'Web', 'web');
      const refsBefore = await listRefs(repo.gitDir);
      const { stored, listed } = await store(['vso.code']);
      assert.equal(stored.pushAccess, 'refused');
      assert.match(stored.pushAccessNote ?? '', /this PAT cannot push: create one with Code \(Read & write\)/);
      assert.equal(listed.pushAccess, 'refused');
      assert.deepEqual([listed.scopes, listed.scopesKnown], [[], false], 'Azure DevOps did not report the scopes: none are listed');
      const [event] = await bed.audit('authorization.pat_store');
      assert.equal(event?.details.pushAccess, 'refused');
      // Only the advertisement was asked for: the repository is as it was.
      assert.deepEqual(await listRefs(repo.gitDir), refsBefore);
    });

    it('a PAT with Code (Read & write) is confirmed; one reaching no repository is "not confirmed"', async () => {
      const write = await store(['vso.code_write']);
      assert.equal(write.stored.pushAccess, 'confirmed');
      assert.equal(write.listed.pushAccess, 'confirmed');
      const none = await store(['vso.code_write'], EMPTY_ORG);
      assert.equal(none.stored.pushAccess, 'unconfirmed');
      assert.match(none.listed.pushAccessNote ?? '', /push rights could not be confirmed/);
    });

    it('OAuth scopes are listed as Entra reported them', async () => {
      await bed.connectOAuth(bed.plane.memberBrowser, alice.upn);
      const listed = (await bed.plane.memberBrowser.request({ method: 'GET', url: '/api/v1/scm/authorizations' })).json()
        .authorizations as Listed[];
      const oauth = listed.find((a) => a.method === 'oauth')!;
      assert.equal(oauth.scopesKnown, true);
      assert.ok(
        oauth.scopes.some((s) => s.endsWith('vso.code_write')),
        JSON.stringify(oauth.scopes),
      );
    });
  });
}

describe('a later TF401027 for a PAT', () => {
  it('says the PAT cannot push and what to create', () => {
    const err = new AzureDevOpsError({
      kind: 'forbidden',
      status: 403,
      tfCode: 'TF401027',
      adoMessage: "TF401027: You need the Git 'GenericContribute' permission to perform this action.",
      message: 'x',
    });
    const failure = classifyAzureDevOpsError(err, { kind: 'pat', deployment: 'services', organization: ORG, what: 'repository "Web/web"' });
    assert.equal(failure.reason, 'reauthorization_required');
    assert.match(failure.message, /^this PAT cannot push: create one with Code \(Read & write\)/);
    // A bearer token meeting TF401027 is a permission matter: no PAT advice.
    assert.doesNotMatch(
      classifyAzureDevOpsError(err, { kind: 'bearer', deployment: 'services', organization: ORG, what: 'x' }).message,
      /PAT/,
    );
  });
});
