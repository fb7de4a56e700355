// The engine's cases, shared by engine.bench.mjs (CPU per call) and instructions.mjs
// (instructions per call): the full pipeline and the open-breaker rejection, each called
// with no options and with the per-call options adapters pass, and `policy()` defaults.

const work = async () => 1;
const swallow = () => {};

/**
 * The engine's policies, made with breakwater's `api` (its module's exports): the full
 * pipeline (retry + budget + breaker + deadline + attempt timeout), one whose breaker is
 * held open, and `policy()` defaults. The core bench compares the same ones with the peers.
 */
export function enginePolicies({ circuitBreaker, policy, retryBudget }) {
  const full = policy({
    deadline: 10_000,
    attemptTimeout: 5_000,
    retry: { maxAttempts: 3, budget: retryBudget() },
    circuitBreaker: circuitBreaker(),
  });
  const openBreaker = circuitBreaker();
  openBreaker.isolate();
  const open = policy({ retry: false, circuitBreaker: openBreaker });
  return { full, open, plain: policy() };
}

/** The cases, by name, on the breakwater build whose entry is `url`. */
export async function engineCases(url) {
  const { full, open, plain } = enginePolicies(await import(url));
  const options = () => ({ deadline: Date.now() + 10_000, key: 'orders' });
  return {
    'policy() no options': () => plain.execute(work),
    'full pipeline, no options': () => full.execute(work),
    'full pipeline, { deadline, key }': () => full.execute(work, options()),
    'open-breaker rejection, no options': () => open.execute(work).catch(swallow),
    'open-breaker rejection, { deadline, key }': () => open.execute(work, options()).catch(swallow),
  };
}
