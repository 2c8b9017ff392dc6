import { NatsBus } from '../src/bus/nats/nats-bus.js';
import { busContract } from './bus-contract.js';

const NATS_URL = process.env['PARLEY_TEST_NATS_URL'] ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

busContract('nats', async () => {
  // Two connections stand for two server processes.
  const a = await NatsBus.connect(NATS_URL, 'parley-test-a');
  const b = await NatsBus.connect(NATS_URL, 'parley-test-b');
  return {
    a,
    b,
    async cleanup() {
      await a.close();
      await b.close();
    },
  };
});
