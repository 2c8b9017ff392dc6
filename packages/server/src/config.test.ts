import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, configFromEnv } from './config.js';

describe('configuration from the environment', () => {
  it('has the documented defaults', () => {
    const c = configFromEnv({});
    assert.equal(c.port, 8080);
    assert.match(c.dataDir, /data$/);
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.retentionSeconds, 30 * 86400);
  });

  it('reads overrides and treats empty variables as unset', () => {
    const c = configFromEnv({ PORT: '9000', DATABASE_URL: 'postgres://x@127.0.0.1/db', PARLEY_RETENTION_DAYS: '7', PARLEY_DATA_DIR: '' });
    assert.equal(c.port, 9000);
    assert.equal(c.databaseUrl, 'postgres://x@127.0.0.1/db');
    assert.equal(c.retentionSeconds, 7 * 86400);
    assert.match(c.dataDir, /data$/);
  });

  it('refuses nonsense with a ConfigError naming the variable', () => {
    assert.throws(() => configFromEnv({ PORT: 'eighty' }), (e: unknown) => e instanceof ConfigError && /PORT/.test(e.message));
    assert.throws(() => configFromEnv({ DATABASE_URL: 'not a url' }), ConfigError);
    assert.throws(() => configFromEnv({ PARLEY_RETENTION_DAYS: '0' }), ConfigError);
  });
});
