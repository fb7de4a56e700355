/**
 * Where the example's NATS comes from: an existing server named by NATS_URL (reached
 * through a freeze proxy, so the lost-ack phase can pause it), else a nats-server on the
 * PATH that the example starts on a free port with a temporary store and stops at the end
 * (and pauses for real, with SIGSTOP). With neither, the example stops at once and says how
 * to get one.
 *
 * @module
 */
import { NatsServer, natsServerBinary } from '../../shared/nats-server.js';
import { startFreezeProxy } from './freeze-proxy.js';

export const NATS_HELP = [
  'The order-flow example needs a NATS server with JetStream, and found none:',
  'no nats-server on the PATH and no NATS_URL. Either install nats-server:',
  '  sudo apt-get install nats-server        # Debian, Ubuntu',
  '  brew install nats-server                # macOS',
  '  (or a release binary: https://github.com/nats-io/nats-server/releases)',
  'or run the official container image and point the example at it:',
  '  docker run --rm -p 4222:4222 nats -js',
  '  NATS_URL=nats://127.0.0.1:4222 npm run example',
].join('\n');

/** Thrown when no NATS server can be had; its message is {@link NATS_HELP}. */
export class NatsUnavailableError extends Error {
  override readonly name = 'NatsUnavailableError';
  constructor() {
    super(NATS_HELP);
  }
}

export interface NatsEndpoint {
  /** What the services connect to. */
  readonly url: string;
  /** For the report: which server this is. */
  readonly description: string;
  /** Stops answering (connections stay up); resolves once nothing will be answered. */
  pause(): Promise<void>;
  resume(): void;
  /** Stops the server the example started (and removes its store), or closes the proxy. */
  close(): Promise<void>;
}

/** Whether the example can get a NATS server (NATS_URL, or nats-server on the PATH). */
export function natsAvailable(natsUrl: string | undefined = process.env.NATS_URL): boolean {
  return Boolean(natsUrl) || natsServerBinary() !== undefined;
}

export async function openNats(natsUrl: string | undefined = process.env.NATS_URL): Promise<NatsEndpoint> {
  if (natsUrl) {
    const proxy = await startFreezeProxy(natsUrl);
    return {
      url: proxy.url,
      description: `the server at NATS_URL=${natsUrl} (through a pausable proxy)`,
      pause: async () => proxy.freeze(),
      resume: () => proxy.thaw(),
      close: () => proxy.close(),
    };
  }
  if (natsServerBinary() === undefined) throw new NatsUnavailableError();
  const server = await NatsServer.start();
  return {
    url: server.url,
    description: `nats-server on ${server.url} (started by the example, stopped at the end)`,
    pause: () => server.pause(),
    resume: () => {
      if (server.running) server.resume();
    },
    close: () => server.dispose(),
  };
}
