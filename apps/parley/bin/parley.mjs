#!/usr/bin/env node
// Runs the TypeScript entry point directly; tsx compiles it on load.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
