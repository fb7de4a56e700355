// The engine's cases, shared by engine.bench.mjs (CPU per call) and instructions.mjs
// (instructions per call): the full pipeline and the open-breaker rejection, each called
// with no options and with the per-call options adapters pass, and `policy()` defaults.

const work = async () => 1;
const swallow = () => {};

/** The cases, by name, on the breakwater build whose entry is `url`. */
export async function engineCases(url) {
  const { circuitBreaker, policy, retryBudget } = await import(url);
  const full = policy({
    deadline: 10_000,
    attemptTimeout: 5_000,
    retry: { maxAttempts: 3, budget: retryBudget() },
    circuitBreaker: circuitBreaker(),
  });
  const openBreaker = circuitBreaker();
  openBreaker.isolate();
  const open = policy({ retry: false, circuitBreaker: openBreaker });
  const plain = policy();
  const options = () => ({ deadline: Date.now() + 10_000, key: 'orders' });
  return {
    'policy() no options': () => plain.execute(work),
    'full pipeline, no options': () => full.execute(work),
    'full pipeline, { deadline, key }': () => full.execute(work, options()),
    'open-breaker rejection, no options': () => open.execute(work).catch(swallow),
    'open-breaker rejection, { deadline, key }': () => open.execute(work, options()).catch(swallow),
  };
}
