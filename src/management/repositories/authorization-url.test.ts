// Case 8 of issue 14: every answer that says "authorize first" (never authorized, or connect again)
// says where: /context/parse and the listings in their 409, /context/access beside its reason.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../../../test/support/databases.ts';
import { startIntegrationBed } from '../../../test/support/integration-bed.ts';
import type { IntegrationBed } from '../../../test/support/integration-bed.ts';

const ORG = 'contoso';
const URL_ = `https://dev.azure.com/${ORG}/Web/_git/web`;

for (const { kind, skip } of await databaseKinds()) {
  describe(`authorization-required answers carry the authorization URL (${kind})`, { skip }, () => {
    let bed: IntegrationBed;
    before(async () => {
      bed = await startIntegrationBed(kind, async (emu) => {
        emu.world.addOrganization(ORG);
        emu.world.addProject(ORG, 'Web');
        await emu.world.createRepository(ORG, 'Web', 'web', { commits: 1 });
      });
    });
    after(async () => {
      await bed?.close();
    });

    it('/context/parse, the listings, environments and /context/access, for a user who never authorized', async () => {
      const where = `/api/v1/scm/authentication?integrationId=${bed.integrationId}`;
      const parse = await bed.plane.memberBrowser.request({ method: 'POST', url: '/api/v1/context/parse', payload: { url: URL_ } });
      assert.equal(parse.statusCode, 409, parse.body);
      assert.equal(parse.json().error.code, 'not_authorized');
      assert.equal(parse.json().error.authorizationUrl, where);
      assert.ok(parse.json().error.message.includes(where));
      const listing = await bed.plane.memberBrowser.request({
        method: 'GET',
        url: `/api/v1/scm/repositories?integrationId=${bed.integrationId}&organization=${ORG}`,
      });
      assert.equal(listing.statusCode, 409, listing.body);
      assert.equal(listing.json().error.authorizationUrl, where);
      const environment = await bed.plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/environments',
        payload: { contextUrl: URL_, runnerId: bed.runnerId },
      });
      assert.equal(environment.statusCode, 409, environment.body);
      assert.equal(environment.json().error.authorizationUrl, where);
      const access = await bed.plane.memberBrowser.request({ method: 'POST', url: '/api/v1/context/access', payload: { url: URL_ } });
      assert.equal(access.json().reason, 'not_authorized');
      assert.equal(access.json().authorizationUrl, where);
      assert.ok(access.json().authentication.supportsOauth2.authUrl);
      // The URL it names answers with what to do.
      const how = await bed.plane.memberBrowser.request({ method: 'GET', url: where });
      assert.equal(how.statusCode, 200);
      assert.equal(how.json().authenticated, false);
    });
  });
}
