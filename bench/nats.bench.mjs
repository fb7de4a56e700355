// JetStream adapter overhead: publishes per second to a real nats-server (JetStream, file
// storage, loopback), awaited one at a time and 64 in flight, raw `js.publish` against the
// breakwater publisher (success path, default policy), with the v2 (`nats`) and the v3
// (`@nats-io/jetstream`) clients.
//
// The benchmark starts its own nats-server on a free port with a temporary store and stops
// it at the end. Every variant publishes to the same stream over its client's one
// connection; variants are measured in rounds whose order rotates (see lib/throughput.mjs).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as connectV3 } from '@nats-io/transport-node';
import { connect as connectV2 } from 'nats';
import { loadBreakwater } from './lib/dist.mjs';
import { writeSection } from './lib/report.mjs';
import { compareThroughput, methodText, pairedRatio, throughputTable } from './lib/throughput.mjs';

/** Starts `nats-server -js` on a free loopback port; resolves once it is ready. */
async function startServer() {
  const storeDir = mkdtempSync(join(tmpdir(), 'breakwater-bench-nats-'));
  const child = spawn(
    process.env.NATS_SERVER ?? 'nats-server',
    ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', storeDir],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const port = await new Promise((resolve, reject) => {
    let log = '';
    let found;
    const timer = setTimeout(() => reject(new Error(`nats-server not ready:\n${log}`)), 15_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new Error(`cannot start nats-server (install it: apt-get install nats-server): ${error.message}`),
      );
    });
    child.stderr.on('data', (chunk) => {
      log += chunk;
      found ??= /Listening for client connections on [^\s]*:(\d+)/.exec(log)?.[1];
      if (found && log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve(Number(found));
      }
    });
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(storeDir, { recursive: true, force: true });
  };
  process.once('exit', () => child.kill('SIGKILL'));
  return { url: `nats://127.0.0.1:${port}`, stop };
}

const { policy } = await loadBreakwater();
const { jetStreamPublisher } = await loadBreakwater('nats');

const server = await startServer();
try {
  const nc2 = await connectV2({ servers: server.url });
  const nc3 = await connectV3({ servers: server.url });
  const jsm = await jetstreamManager(nc3);
  // Bounded so that minutes of publishing do not fill the disk; default duplicate window.
  await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'], max_msgs: 200_000, discard: 'old' });

  const js2 = nc2.jetstream();
  const js3 = jetstream(nc3);
  const payload = new TextEncoder().encode(JSON.stringify({ id: 'o-1042', total: 99, currency: 'EUR' }));
  const publisher2 = jetStreamPublisher(js2, policy());
  const publisher3 = jetStreamPublisher(js3, policy());
  // Let each publisher learn the stream before measuring (one lookup, then local matching).
  await publisher2.publish('bench.v2.bw', payload);
  await publisher3.publish('bench.v3.bw', payload);

  const variants = [
    { name: 'v2 raw js.publish', op: () => js2.publish('bench.v2.raw', payload) },
    {
      name: 'v2 raw js.publish + msgID',
      op: () => js2.publish('bench.v2.id', payload, { msgID: randomUUID() }),
    },
    { name: 'v2 breakwater publisher', op: () => publisher2.publish('bench.v2.bw', payload) },
    { name: 'v3 raw js.publish', op: () => js3.publish('bench.v3.raw', payload) },
    {
      name: 'v3 raw js.publish + msgID',
      op: () => js3.publish('bench.v3.id', payload, { msgID: randomUUID() }),
    },
    { name: 'v3 breakwater publisher', op: () => publisher3.publish('bench.v3.bw', payload) },
  ];

  const rows = await compareThroughput(variants);
  await nc2.close();
  await nc3.close();

  const percent = (name, baseline, concurrency) =>
    `${(100 * pairedRatio(rows, name, baseline, concurrency)).toFixed(1)}%`;
  const ratios = [];
  const likeForLike = [];
  for (const version of ['v2', 'v3']) {
    for (const concurrency of [1, 64]) {
      const ours = `${version} breakwater publisher`;
      ratios.push(`${version} at ${concurrency}: ${percent(ours, `${version} raw js.publish`, concurrency)}`);
      likeForLike.push(
        `${version} at ${concurrency}: ${percent(ours, `${version} raw js.publish + msgID`, concurrency)}`,
      );
    }
  }
  const table = (version) =>
    throughputTable(
      rows.filter((r) => r.name.startsWith(version)),
      `${version} raw js.publish`,
    );
  writeSection(
    'nats',
    'JetStream adapter: publishes per second to nats-server on loopback',
    `${table('v2')}

${table('v3')}

Each operation publishes a 47-byte payload to a JetStream stream (file storage, default
2-minute duplicate window) on a nats-server started by the benchmark, and awaits the ack;
"concurrency" is how many publishes are kept in flight. "breakwater publisher" is
\`jetStreamPublisher(js, policy())\` (default policy: 3 attempts, retry budget, no breaker),
which sends a Nats-Msg-Id on every publish (a new UUID per publish, since the policy may
retry); "raw js.publish + msgID" shows what that header costs the server by itself.
${methodText('baseline')} Target: the publisher
keeps at least 95% of raw \`js.publish\` at both concurrencies; this run: ${ratios.join(', ')}.
Against raw \`js.publish\` with a msgID (the same message on the wire, so what the adapter
itself costs): ${likeForLike.join(', ')}.`,
  );
} finally {
  await server.stop();
}
