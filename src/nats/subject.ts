/**
 * NATS subject matching, to tell locally which known stream holds a subject, so that a
 * publisher asks the server once per stream instead of once per subject
 * (`orders.created.<id>` has a new subject per order).
 *
 * @module
 */

/**
 * Whether `subject` (literal tokens) matches `pattern`, where `*` matches one token and a
 * final `>` matches one or more tokens.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  let p = 0;
  let s = 0;
  for (;;) {
    const pEnd = nextDot(pattern, p);
    const sEnd = nextDot(subject, s);
    const token = pattern.slice(p, pEnd);
    if (token === '>') return pEnd === pattern.length && s < subject.length;
    if (s >= subject.length) return false;
    if (token !== '*' && token !== subject.slice(s, sEnd)) return false;
    const pDone = pEnd >= pattern.length;
    const sDone = sEnd >= subject.length;
    if (pDone || sDone) return pDone && sDone;
    p = pEnd + 1;
    s = sEnd + 1;
  }
}

function nextDot(text: string, from: number): number {
  const at = text.indexOf('.', from);
  return at < 0 ? text.length : at;
}
