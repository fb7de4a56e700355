// A throwaway OrderService in its own process, so a test can kill it the way a crash
// does (SIGKILL: sockets vanish, no GOAWAY) and start another on the same port.
// Usage: node crash-server.mjs <port> <mode>; mode "hang-first" never answers the first
// GetOrder call. Reports { type: 'ready', port } and { type: 'call', headers } over IPC.
import { loadPackageDefinition, Server, ServerCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const [port = '0', mode = 'ok'] = process.argv.slice(2);
const proto = loadPackageDefinition(
  loadSync(new URL('../../fixtures/grpc/orders.proto', import.meta.url).pathname),
);
let seq = 0;
const server = new Server();
server.addService(proto.orders.v1.OrderService.service, {
  GetOrder(call, callback) {
    seq++;
    process.send?.({ type: 'call', headers: call.metadata.getMap() });
    if (mode === 'hang-first' && seq === 1) return;
    callback(null, { id: call.request.id, item: 'from-crash-server', quantity: seq });
  },
});
server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, bound) => {
  if (error) {
    console.error(error);
    process.exit(1);
  }
  process.send?.({ type: 'ready', port: bound });
});
