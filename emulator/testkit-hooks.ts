// For tests: one suite-level set-up shared by the emulator's testkits. `started()` registers
// before(start) and after(close) in the current suite and returns a handle that reads through to the
// started value, so a suite writes `const h = startedEntra();` instead of its own let/before/after.
import { after, before } from 'node:test';

/**
 * Starts a value in `before` and closes it in `after` (only if it started). The returned handle forwards
 * property reads and writes to that value; using it before the `before` hook ran throws. `setUp` runs in
 * the same hook once the value started: node 20 runs a file's top-level `before` hooks concurrently, so a
 * second top-level hook could not rely on the first.
 */
export function started<T extends object>(
  start: () => Promise<T>,
  close: (value: T) => unknown,
  setUp: () => unknown = () => undefined,
): T {
  let value: T | undefined;
  before(async () => {
    value = await start();
    await setUp();
  });
  after(async () => {
    if (value) await close(value);
  });
  const current = (): T => {
    if (!value) throw new Error('test handle used before its before() hook ran');
    return value;
  };
  return new Proxy({} as T, {
    get(_target, prop) {
      const v = current();
      const member: unknown = Reflect.get(v, prop, v);
      return typeof member === 'function' ? member.bind(v) : member;
    },
    set: (_target, prop, next) => Reflect.set(current(), prop, next),
    has: (_target, prop) => Reflect.has(current(), prop),
  });
}
