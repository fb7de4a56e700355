/**
 * A TCP proxy in front of an existing NATS server (NATS_URL) that can freeze: while frozen
 * it forwards nothing in either direction and holds what arrives, then delivers it all on
 * thaw. To the clients this is exactly a paused server (SIGSTOP): connections stay up,
 * requests go unanswered, and what was sent meanwhile is handled late, its acks going to
 * requests that timed out. The example uses it only when it cannot pause the server itself.
 *
 * @module
 */
import { createServer, connect as dial, type Socket } from 'node:net';

export interface FreezeProxy {
  /** The proxy's address, with the target URL's credentials, if any. */
  readonly url: string;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startFreezeProxy(target: string): Promise<FreezeProxy> {
  const upstream = new URL(target.includes('://') ? target : `nats://${target}`);
  const host = upstream.hostname || '127.0.0.1';
  const port = Number(upstream.port || 4222);
  let frozen = false;
  const sockets = new Set<Socket>();
  const flushes = new Set<() => void>();

  const server = createServer((client) => {
    const server = dial({ host, port });
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        server.destroy();
      });
    }
    const pipe = (from: Socket, to: Socket): void => {
      const held: Buffer[] = [];
      const flush = (): void => {
        for (const chunk of held.splice(0)) to.write(chunk);
      };
      flushes.add(flush);
      from.once('close', () => {
        flushes.delete(flush);
        to.end();
      });
      from.on('data', (chunk: Buffer) => {
        if (frozen) held.push(chunk);
        else to.write(chunk);
      });
    };
    pipe(client, server);
    pipe(server, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const local = typeof address === 'object' && address !== null ? address.port : 0;
  const credentials = upstream.username
    ? `${upstream.username}${upstream.password ? `:${upstream.password}` : ''}@`
    : '';
  return {
    url: `nats://${credentials}127.0.0.1:${local}`,
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const flush of flushes) flush();
    },
    close() {
      frozen = false;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
