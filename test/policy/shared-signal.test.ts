/** Many calls sharing one caller signal: one listener on it, every call aborted. */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { policy } from '../../src/index.js';

describe('a caller signal shared by concurrent calls', () => {
  it('holds a single listener of ours, however many calls wait on it', async () => {
    const controller = new AbortController();
    const p = policy({ retry: false });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const calls = Array.from({ length: 50 }, () =>
        p.execute(() => new Promise(() => {}), { signal: controller.signal }),
      );
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      const reason = new Error('shutting down');
      controller.abort(reason);
      const results = await Promise.allSettled(calls);
      expect(results.every((r) => r.status === 'rejected' && r.reason === reason)).toBe(true);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      // Let a warning emitted on a later tick surface before checking.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('removes the listener when the last call settles, and keeps it while one is pending', async () => {
    const controller = new AbortController();
    const p = policy({ retry: false });
    let release!: () => void;
    const pending = p.execute(() => new Promise<void>((resolve) => (release = resolve)), {
      signal: controller.signal,
    });
    await Promise.all(
      Array.from({ length: 20 }, () => p.execute(async () => 1, { signal: controller.signal })),
    );
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    release();
    await pending;
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
