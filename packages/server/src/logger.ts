import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs. What may appear: event names, error codes, ids of users,
 * devices and groups, counts and sizes. What never appears: message bytes,
 * tokens, passwords, keys, IP addresses. Requests are logged by the code that
 * handles them, with chosen fields only — never the raw request.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: null,
    redact: {
      paths: ['token', 'password', '*.token', '*.password', 'authorization', '*.authorization', 'headers', 'remoteAddress', 'ip'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
