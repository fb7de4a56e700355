/**
 * Classification of the errors the real server and clients produce (not constructed ones):
 * if a client release changes an error's shape, this is where it shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NATS_SERVER_INSTALL_HINT,
  NatsServer,
  natsServerAvailable,
} from '../../../examples/shared/nats-server.js';
import {
  isJetStreamFailure,
  isJetStreamTimeout,
  isNoResponders,
  isRetryableJetStreamError,
  isWrongLastSequence,
  jetStreamApiError,
} from '../../../src/nats/index.js';
import { connectKit, VERSIONS } from './clients.js';

const available = natsServerAvailable();

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the request to fail');
}

describe.skipIf(!available)(
  `errors from nats-server${available ? '' : ` (skipped: ${NATS_SERVER_INSTALL_HINT})`}`,
  () => {
    let server: NatsServer;
    beforeAll(async () => {
      server = await NatsServer.start();
    });
    afterAll(async () => {
      await server?.dispose();
    });

    it.each(VERSIONS)('%s: each failure is classified as the publisher needs', async (version) => {
      const kit = await connectKit(version, server.url);
      try {
        await kit.addStream({ name: `ERR_${version}`, subjects: [`err.${version}.>`] });
        await kit.js.publish(`err.${version}.a`, 'first', { msgID: 'm1' });

        const noResponders = await failure(kit.js.publish(`unbound.${version}.a`, 'x'));
        expect([isNoResponders(noResponders), isRetryableJetStreamError(noResponders)]).toEqual([true, true]);
        expect(isJetStreamFailure(noResponders)).toBe(true);

        const wrongSeq = await failure(
          kit.js.publish(`err.${version}.a`, 'x', { expect: { lastSequence: 9 } }),
        );
        expect(isWrongLastSequence(wrongSeq)).toBe(true);
        expect(jetStreamApiError(wrongSeq)).toMatchObject({ status: 400, errCode: 10071 });
        expect([isRetryableJetStreamError(wrongSeq), isJetStreamFailure(wrongSeq)]).toEqual([false, false]);

        const wrongId = await failure(
          kit.js.publish(`err.${version}.a`, 'x', { expect: { lastMsgID: 'nope' } }),
        );
        expect(jetStreamApiError(wrongId)).toMatchObject({ status: 400, errCode: 10070 });
        expect(isRetryableJetStreamError(wrongId)).toBe(false);

        const mismatch = await failure(
          kit.js.publish(`err.${version}.a`, 'x', { expect: { streamName: 'ANOTHER' } }),
        );
        expect(jetStreamApiError(mismatch)).toMatchObject({ status: 400, errCode: 10060 });
        expect(isRetryableJetStreamError(mismatch)).toBe(false);

        await server.pause();
        let timeout: unknown;
        try {
          timeout = await failure(kit.js.publish(`err.${version}.a`, 'x', { timeout: 200 }));
        } finally {
          server.resume();
        }
        expect([isJetStreamTimeout(timeout), isRetryableJetStreamError(timeout)]).toEqual([true, true]);
        expect(isJetStreamFailure(timeout)).toBe(true);
      } finally {
        await kit.close();
      }
      const closed = await failure(kit.js.publish(`err.${version}.a`, 'x'));
      expect(isRetryableJetStreamError(closed)).toBe(false);
    });
  },
);
