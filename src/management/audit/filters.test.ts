import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ApiError } from '../../http/errors.ts';
import { auditQuery, parseInstant } from './filters.ts';

const refused = (fn: () => unknown, field: string) =>
  assert.throws(
    fn,
    (err: unknown) => err instanceof ApiError && err.statusCode === 400 && err.field === field,
    `refused with field ${field}`,
  );

describe('audit log filters', () => {
  it('reads ISO-8601 dates and date-times into the stored UTC form', () => {
    assert.equal(parseInstant('2024-01-10', 'from'), '2024-01-10T00:00:00.000Z');
    assert.equal(parseInstant('2024-01-10T12:30Z', 'from'), '2024-01-10T12:30:00.000Z');
    assert.equal(parseInstant('2024-01-10T12:30:15.5Z', 'from'), '2024-01-10T12:30:15.500Z');
    assert.equal(parseInstant('2024-01-10T12:30:15.123456789Z', 'from'), '2024-01-10T12:30:15.123Z');
    assert.equal(parseInstant('2024-01-10T01:00:00+02:00', 'from'), '2024-01-09T23:00:00.000Z');
    assert.equal(parseInstant('2024-01-10T23:00:00-05:30', 'from'), '2024-01-11T04:30:00.000Z');
    assert.equal(parseInstant(' 2024-02-29 ', 'from'), '2024-02-29T00:00:00.000Z', 'a leap day, spaces trimmed');
  });

  it('refuses what is not a real instant, naming the field', () => {
    for (const bad of [
      '',
      'yesterday',
      '2024-1-10',
      '2023-02-29',
      '2024-02-30',
      '2024-13-01',
      '2024-00-10',
      '2024-01-10T24:00:00Z',
      '2024-01-10T10:60Z',
      '2024-01-10T10:00:00',
      '2024-01-10T10:00:00+2',
      '0099-01-01',
      '1712345678',
      '2024-01-10T10:00:00+24:00',
    ]) {
      refused(() => parseInstant(bad, 'to'), 'to');
    }
  });

  it('agrees with Date for every instant it accepts in UTC form', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
        (date) => {
          assert.equal(parseInstant(date.toISOString(), 'from'), date.toISOString());
        },
      ),
    );
  });

  it('checks every filter and leaves out empty ones', () => {
    const q = auditQuery('org_1', {
      limit: 10,
      group: 'runner',
      actorType: 'user',
      actorId: ' usr_1 ',
      targetType: 'project',
      targetId: '',
      action: '',
      from: '2024-01-01',
      to: '2024-02-01',
      before: '2024-01-05T00:00:00.000Z|aud_9',
    });
    assert.deepEqual(q, {
      organizationId: 'org_1',
      limit: 11,
      action: undefined,
      group: 'runner',
      actorType: 'user',
      actorId: 'usr_1',
      targetType: 'project',
      targetId: undefined,
      from: '2024-01-01T00:00:00.000Z',
      to: '2024-02-01T00:00:00.000Z',
      before: { createdAt: '2024-01-05T00:00:00.000Z', id: 'aud_9' },
    });
    refused(() => auditQuery('org_1', { limit: 10, group: 'runner.create' }), 'group');
    refused(() => auditQuery('org_1', { limit: 10, actorType: 'admin' }), 'actorType');
    refused(() => auditQuery('org_1', { limit: 10, targetType: 'users' }), 'targetType');
    refused(() => auditQuery('org_1', { limit: 10, from: '2024-01-02', to: '2024-01-01T23:59:59Z' }), 'to');
    refused(() => auditQuery('org_1', { limit: 10, before: 'a|b|c' }), 'cursor');
    refused(() => auditQuery('org_1', { limit: 0 }), 'limit');
  });
});
