import { MemoryBus } from '../src/bus/memory/memory-bus.js';
import { busContract } from './bus-contract.js';

busContract('memory', async () => {
  const bus = new MemoryBus();
  return { a: bus, b: bus, cleanup: () => bus.close() };
});
