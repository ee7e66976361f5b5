import { it } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator } from '../server.ts';

it('seeds lightweight and annotated tags with fast-import', async () => {
  const emu = await startEmulator();
  try {
    emu.world.addOrganization('o');
    emu.world.addProject('o', 'p');
    const user = emu.world.addUser({ upn: `a@${emu.defaultTenant.domain}` });
    await emu.world.createRepository('o', 'p', 'r', {
      commits: 2,
      tags: [{ name: 'v1', message: 'release one' }, 'v2'],
      createdBy: user.id,
    });
    emu.world.addMember('o', user.id);
    const { token } = emu.world.createPat(user.id, { scopes: ['vso.code'], orgs: ['o'] });
    const res = await fetch(`${emu.urls.services}/o/p/_apis/git/repositories/r/refs?filter=tags/&api-version=7.1`, {
      headers: { authorization: `Basic ${Buffer.from(`:${token}`).toString('base64')}` },
    });
    const names = ((await res.json()) as { value: { name: string }[] }).value.map((r) => r.name).sort();
    assert.deepEqual(names, ['refs/tags/v1', 'refs/tags/v2']);
  } finally {
    await emu.close();
  }
});
