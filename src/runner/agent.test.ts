// The control loop's reconnect waits: doubling from 250 ms up to 10 s, and stop() does not sit out
// the wait in progress. Mock timers, no wall clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRunnerAgent } from './agent.ts';
import type { ManagementClient } from './management-client.ts';
import type { Logger } from '../logging/logger.ts';
import type { ControlAnswer, ControlRequest } from '../control/protocol.ts';

const turn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

describe('runner agent control loop', () => {
  it('retries an unavailable control channel after 250 ms, doubling up to 10 s; stop() ends the wait at once', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let polls = 0;
    const client = {
      poll: async () => {
        polls++;
        throw new Error('connection refused');
      },
      answer: async () => undefined,
    } as unknown as ManagementClient;
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, message: string) => warnings.push(message), error: () => undefined } as unknown as Logger;
    const agent = createRunnerAgent({ client, handlers: {}, logger });
    agent.start();
    t.after(() => agent.stop());
    const waits = [250, 500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000];
    for (const [i, ms] of waits.entries()) {
      await turn();
      assert.equal(polls, i + 1);
      assert.match(warnings.at(-1) ?? '', new RegExp(`retrying in ${ms} ms$`));
      t.mock.timers.tick(ms);
    }
    await turn();
    // A 10 s wait has begun; stop() does not wait for it.
    await agent.stop();
    assert.equal(polls, waits.length + 1);
  });

  it('checks each payload against its kind before the handler runs; an unlisted kind is refused as unknown', async () => {
    const requests: ControlRequest[] = [
      { id: 'req_1', kind: 'list-authorizations', payload: { userId: 'u1' }, deadlineAt: '' },
      { id: 'req_2', kind: 'list-authorizations', payload: { user: 'u1' }, deadlineAt: '' },
      { id: 'req_3', kind: 'run-anything', payload: {}, deadlineAt: '' },
    ];
    const answers = new Map<string, ControlAnswer>();
    let delivered = false;
    const client = {
      poll: async (_wait: number, signal: AbortSignal) => {
        if (!delivered) {
          delivered = true;
          return requests;
        }
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        return [];
      },
      answer: async (id: string, answer: ControlAnswer) => void answers.set(id, answer),
    } as unknown as ManagementClient;
    const seen: unknown[] = [];
    const logger = { warn: () => undefined, error: () => undefined } as unknown as Logger;
    const agent = createRunnerAgent({
      client,
      logger,
      handlers: {
        'list-authorizations': async (payload) => {
          seen.push(payload);
          return { authorizations: [] };
        },
      },
    });
    agent.start();
    while (answers.size < requests.length) await turn();
    await agent.stop();
    assert.deepEqual(seen, [{ userId: 'u1' }], 'the handler ran for the payload that fits only');
    assert.deepEqual(answers.get('req_1'), { ok: true, result: { authorizations: [] } });
    const refused = answers.get('req_2');
    assert.equal(refused?.ok, false);
    assert.equal(!refused?.ok && refused?.error.code, 'invalid_request');
    assert.equal(!refused?.ok && refused?.error.field, 'userId');
    const unknown = answers.get('req_3');
    assert.equal(!unknown?.ok && unknown?.error.code, 'unknown_request');
  });
});
