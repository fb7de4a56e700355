/**
 * Bad input: every invalid option throws BREAKWATER_INVALID_OPTIONS at construction,
 * naming the option (error.option, and the message) and what is allowed; per-call
 * option errors reject the call instead.
 */
import { describe, expect, it } from 'vitest';
import {
  backoff,
  bulkhead,
  circuitBreaker,
  InvalidOptionsError,
  keyedCircuitBreaker,
  type PolicyOptions,
  policy,
  retryBudget,
} from '../../src/index.js';

/** [value, allowed-text fragment] */
type Bad = [unknown, string];

const NUMBER_ABOVE_0 = 'a number above 0 and at most 2147483647';
const badDuration: Bad[] = [
  [-1, NUMBER_ABOVE_0],
  [0, NUMBER_ABOVE_0],
  [Number.NaN, NUMBER_ABOVE_0],
  [Number.POSITIVE_INFINITY, NUMBER_ABOVE_0],
  [2 ** 31, NUMBER_ABOVE_0],
  ['100', NUMBER_ABOVE_0],
  [null, NUMBER_ABOVE_0],
];

function thrown(make: () => unknown): InvalidOptionsError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return error as InvalidOptionsError;
  }
  throw new Error('expected the construction to throw');
}

/**
 * Asserts `make` throws for `option`, naming it and the allowed range in the message (an
 * unknown key is named as `unknown option "key" in parent`).
 */
function expectInvalid(make: () => unknown, option: string, allowed: string): void {
  const error = thrown(make);
  expect(error.code).toBe('BREAKWATER_INVALID_OPTIONS');
  expect(error.option).toBe(option);
  if (error.message.startsWith('unknown option')) {
    const dot = option.lastIndexOf('.');
    expect(error.message).toContain(`"${option.slice(dot + 1)}" in ${option.slice(0, dot)}`);
  } else {
    expect(error.message).toContain(option);
  }
  expect(error.message).toContain(allowed);
}

const policyCases: [string, unknown, string][] = [
  ...badDuration.map(([v, allowed]): [string, unknown, string] => ['deadline', v, allowed]),
  ...badDuration.map(([v, allowed]): [string, unknown, string] => ['attemptTimeout', v, allowed]),
  ['name', '', 'a non-empty string'],
  ['name', 42, 'a non-empty string'],
  ['retry', 'twice', 'an object'],
  ['retry', null, 'or false for a single attempt'],
  ['retry', 3, 'e.g. { maxAttempts: 3 } for 3 attempts in all'],
  ['retry', true, 'an object'],
  ['circuitBreaker', {}, 'a circuitBreaker() or keyedCircuitBreaker()'],
  ['circuitBreaker', 'open', 'a circuitBreaker() or keyedCircuitBreaker()'],
  ['bulkhead', { maxConcurrent: 1 }, 'a bulkhead()'],
  [
    'bulkhead',
    { maxConcurrent: 1 },
    'what the factory returns, e.g. bulkhead({ maxConcurrent: 10 }), not its options',
  ],
  [
    'circuitBreaker',
    { failureRateThreshold: 0.5 },
    'what the factory returns, e.g. circuitBreaker({ failureRateThreshold: 0.5 }), not its options',
  ],
  ['idempotency', 'yes', 'true or false'],
  ['idempotency', 1, 'true or false'],
  ['idempotency', null, 'true or false'],
  ['onEvent', 'log', 'a function'],
  ['clock', {}, 'a Clock { now, setTimeout, clearTimeout }'],
  ['clock', { now: () => 0, setTimeout: () => 0 }, 'a Clock'],
  ['clock', null, 'a Clock'],
  ['random', 0.5, 'a function'],
];

const retryCases: [string, unknown, string][] = [
  ['maxAttempts', 0, 'an integer from 1 to 1000'],
  ['maxAttempts', -1, 'an integer from 1 to 1000'],
  ['maxAttempts', 1.5, 'an integer from 1 to 1000'],
  ['maxAttempts', Number.NaN, 'an integer from 1 to 1000'],
  ['maxAttempts', Number.POSITIVE_INFINITY, 'an integer from 1 to 1000'],
  ['maxAttempts', 1_001, 'an integer from 1 to 1000'],
  ['maxAttempts', '3', 'an integer from 1 to 1000'],
  ['backoff', 100, 'a backoff strategy'],
  ['backoff', 200, 'for a fixed delay write backoff.constant(200)'],
  ['backoff', { delay: 100 }, 'a backoff strategy'],
  ['retryOn', true, 'a function'],
  ['budget', true, 'a retryBudget() or false'],
  ['budget', { ratio: 0.1 }, 'a retryBudget() or false'],
  ['budget', { ratio: 0.1 }, 'e.g. retryBudget({ ratio: 0.1 }), not its options'],
];

describe('policy options', () => {
  for (const [option, value, allowed] of policyCases) {
    it(`${option}: ${String(value)} is refused`, () => {
      expectInvalid(() => policy({ [option]: value } as PolicyOptions), option, allowed);
    });
  }

  for (const [option, value, allowed] of retryCases) {
    it(`retry.${option}: ${String(value)} is refused`, () => {
      expectInvalid(
        () => policy({ retry: { [option]: value } } as PolicyOptions),
        `retry.${option}`,
        allowed,
      );
    });
  }

  it('idempotency.generate must be a function', () => {
    expectInvalid(() => policy({ idempotency: {} as never }), 'idempotency.generate', 'a function');
    expectInvalid(
      () => policy({ idempotency: { generate: 'uuid' } as never }),
      'idempotency.generate',
      'a function',
    );
    expectInvalid(
      () => policy({ idempotency: { generate: () => 'k', prefix: 'x' } as never }),
      'idempotency.prefix',
      'allowed: generate',
    );
  });

  it('an unknown key is refused, listing the allowed ones', () => {
    expectInvalid(() => policy({ retries: 3 } as never), 'policy.retries', 'allowed: name, deadline');
    expectInvalid(
      () => policy({ retry: { attempts: 3 } } as never),
      'retry.attempts',
      'allowed: maxAttempts',
    );
  });

  it('options that are not an object are refused', () => {
    expectInvalid(() => policy(null as never), 'policy', 'an object');
    expectInvalid(() => policy('fast' as never), 'policy', 'an object');
    expectInvalid(() => policy([] as never), 'policy', 'an object');
  });

  it('the message says what was given', () => {
    expect(thrown(() => policy({ deadline: -5 })).message).toBe(
      'deadline must be a number above 0 and at most 2147483647; got -5',
    );
    expect(thrown(() => policy({ circuitBreaker: {} as never })).message).toContain('got an object');
  });

  it('valid edge values are accepted', () => {
    expect(() =>
      policy({ deadline: 1, attemptTimeout: 2_147_483_647, retry: { maxAttempts: 1_000 } }),
    ).not.toThrow();
    expect(() => policy({ retry: { maxAttempts: 1, backoff: (n: number) => n } })).not.toThrow();
    expect(() => policy({ idempotency: false, retry: false, name: 'x' })).not.toThrow();
  });
});

describe('nested options of the factories a policy takes', () => {
  const cases: [string, () => unknown, string, string][] = [
    [
      'bulkhead.maxConcurrent 0',
      () => bulkhead({ maxConcurrent: 0 }),
      'bulkhead.maxConcurrent',
      'an integer from 1 to',
    ],
    [
      'bulkhead.maxConcurrent 1.5',
      () => bulkhead({ maxConcurrent: 1.5 }),
      'bulkhead.maxConcurrent',
      'an integer',
    ],
    [
      'bulkhead.maxConcurrent NaN',
      () => bulkhead({ maxConcurrent: Number.NaN }),
      'bulkhead.maxConcurrent',
      'an integer',
    ],
    ['bulkhead.maxQueue -1', () => bulkhead({ maxQueue: -1 }), 'bulkhead.maxQueue', 'an integer from 0 to'],
    [
      'bulkhead.maxQueue "1"',
      () => bulkhead({ maxQueue: '1' as never }),
      'bulkhead.maxQueue',
      'an integer from 0 to',
    ],
    [
      'bulkhead unknown key',
      () => bulkhead({ size: 1 } as never),
      'bulkhead.size',
      'allowed: maxConcurrent, maxQueue',
    ],
    ['bulkhead null', () => bulkhead(null as never), 'bulkhead', 'an object'],
    [
      'backoff.jitter unknown',
      () => backoff.exponential({ jitter: 'random' as never }),
      'backoff.jitter',
      'one of "full", "equal", "decorrelated", "none"',
    ],
    [
      'backoff.initialDelay -1',
      () => backoff.exponential({ initialDelay: -1 }),
      'backoff.initialDelay',
      'a number from 0 to',
    ],
    [
      'backoff.multiplier 0.5',
      () => backoff.exponential({ multiplier: 0.5 }),
      'backoff.multiplier',
      'a number from 1 to',
    ],
    [
      'backoff min above max',
      () => backoff.exponential({ initialDelay: 100, maxDelay: 10 }),
      'backoff.maxDelay',
      'at least backoff.initialDelay (100)',
    ],
    [
      'backoff.constant min above max',
      () => backoff.constant({ delay: 100, maxDelay: 10 }),
      'backoff.maxDelay',
      'at least backoff.delay (100)',
    ],
    ['backoff.constant NaN', () => backoff.constant(Number.NaN), 'backoff.delay', 'a number from 0 to'],
    ['retryBudget.ratio -1', () => retryBudget({ ratio: -1 }), 'retryBudget.ratio', 'a number from 0 to'],
    [
      'retryBudget.windowMs NaN',
      () => retryBudget({ windowMs: Number.NaN }),
      'retryBudget.windowMs',
      'a number from 10 to',
    ],
    [
      'retryBudget.maxTokens 0',
      () => retryBudget({ maxTokens: 0, tokenRatio: 0.1 }),
      'retryBudget.maxTokens',
      'above 0 and at most 1000',
    ],
    [
      'circuitBreaker min above max',
      () => circuitBreaker({ window: { type: 'count', size: 10 }, minimumCalls: 11 }),
      'circuitBreaker.minimumCalls',
      'an integer from 1 to 10',
    ],
    [
      'circuitBreaker.failureRateThreshold 1.5',
      () => circuitBreaker({ failureRateThreshold: 1.5 }),
      'circuitBreaker.failureRateThreshold',
      'above 0 and at most 1',
    ],
    [
      'keyedCircuitBreaker.maxKeys 0',
      () => keyedCircuitBreaker({ maxKeys: 0 }),
      'keyedCircuitBreaker.maxKeys',
      'an integer from 1 to',
    ],
  ];
  for (const [label, make, option, allowed] of cases) {
    it(label, () => expectInvalid(make, option, allowed));
  }
});

describe('per-call options', () => {
  const p = policy();
  const cases: [string, unknown, string][] = [
    ['deadline', 'soon', 'deadline'],
    ['deadline', Number.NaN, 'deadline'],
    ['signal', {}, 'signal'],
    ['signal', 'abort', 'signal'],
    ['idempotencyKey', '', 'idempotencyKey'],
    ['idempotencyKey', 42, 'idempotencyKey'],
    ['key', 7, 'key'],
    ['retryOn', 'always', 'retryOn'],
  ];
  for (const [name, value, option] of cases) {
    it(`${name}: ${String(value)} rejects the call (no synchronous throw, no attempt)`, async () => {
      let n = 0;
      let result: Promise<unknown> | undefined;
      expect(() => {
        result = p.execute(
          async () => {
            n++;
          },
          { [name]: value } as never,
        );
      }).not.toThrow();
      const error = await result?.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect(error).toMatchObject({ code: 'BREAKWATER_INVALID_OPTIONS', option });
      expect((error as Error).message).toContain(`options.${option}`);
      expect(n).toBe(0);
    });
  }

  /** The error `execute(fn, options)` rejects with, and whether `fn` ran. */
  async function rejection(options: unknown): Promise<{ error: unknown; ran: boolean }> {
    let ran = false;
    const error = await p
      .execute(() => {
        ran = true;
      }, options as never)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    return { error, ran };
  }

  it('a deadline below 1e11 is a duration: rejected, saying to use timeout or Date.now() + ms', async () => {
    const { error, ran } = await rejection({ deadline: 2000 });
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error).toMatchObject({ option: 'deadline' });
    expect((error as Error).message).toContain('pass { timeout: 2000 } for 2000 ms from now');
    expect((error as Error).message).toContain('{ deadline: Date.now() + 2000 }');
    // A clock near the epoch (a test's) takes small absolute deadlines.
    const nearEpoch = policy({ clock: { now: () => 0, setTimeout, clearTimeout } });
    await expect(nearEpoch.execute(() => 'ok', { deadline: 2000 })).resolves.toBe('ok');
  });

  it('timeout bounds the call, every attempt and wait, from now', async () => {
    await expect(p.execute(() => 'ok', { timeout: 2000 })).resolves.toBe('ok');
    const start = Date.now();
    const error = await p
      .execute(
        ({ signal }) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
        {
          timeout: 30,
        },
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BREAKWATER_DEADLINE_EXCEEDED' });
    expect(Date.now() - start).toBeLessThan(1_000);
  });

  it.each([
    [0, 'got 0'],
    [-5, 'got -5'],
    ['2s', 'got "2s"'],
    [2 ** 31, `got ${2 ** 31}`],
  ])('timeout: %j is refused (%s)', async (timeout, got) => {
    const { error, ran } = await rejection({ timeout });
    expect(ran).toBe(false);
    expect(error).toMatchObject({ option: 'timeout' });
    expect((error as Error).message).toContain(`execute options.timeout must be a number of ms above 0`);
    expect((error as Error).message).toContain(got);
  });

  it.each(['timout', 'attemptTimeout', 'retry'])(
    'an unknown key (%s) rejects the call, listing the options',
    async (key) => {
      const { error, ran } = await rejection({ [key]: 100 });
      expect(ran).toBe(false);
      expect(error).toMatchObject({ code: 'BREAKWATER_INVALID_OPTIONS', option: key });
      expect((error as Error).message).toBe(
        `execute options has no option "${key}"; the options are signal, deadline, timeout, idempotencyKey, key, retryOn`,
      );
    },
  );

  it('says what to pass for an AbortController or a Date', async () => {
    const controller = await rejection({ signal: new AbortController() });
    expect((controller.error as Error).message).toBe(
      'execute options.signal must be an AbortSignal; got an AbortController: pass controller.signal',
    );
    const date = await rejection({ deadline: new Date(0) });
    expect((date.error as Error).message).toBe(
      'execute options.deadline must be a number (ms since the epoch); got a Date (1970-01-01T00:00:00.000Z): pass date.getTime()',
    );
  });

  it('options that are not an object reject the call', async () => {
    await expect(p.execute(async () => 1, null as never)).rejects.toMatchObject({ option: 'options' });
    await expect(p.execute(async () => 1, 5 as never)).rejects.toMatchObject({ option: 'options' });
  });
});
