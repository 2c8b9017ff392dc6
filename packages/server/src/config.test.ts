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

  it('reads quotas, the socket cap and trusted proxies, and refuses bad values', () => {
    const d = configFromEnv({});
    assert.deepEqual(d.quotas, { queuedBytes: 256 * 1024 * 1024, blobBytes: 2 * 1024 * 1024 * 1024 });
    assert.equal(d.maxSocketsPerAccount, 16);
    assert.deepEqual(d.trustedProxies, []);
    assert.equal(d.trustProxy, false);
    const c = configFromEnv({
      PARLEY_QUOTA_QUEUED_BYTES: String(64 * 1024 * 1024),
      PARLEY_QUOTA_BLOB_BYTES: String(512 * 1024 * 1024),
      PARLEY_MAX_SOCKETS_PER_ACCOUNT: '4',
      PARLEY_TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.7,fd00::/8,::1',
      PARLEY_TRUST_PROXY: 'on',
    });
    assert.deepEqual(c.quotas, { queuedBytes: 64 * 1024 * 1024, blobBytes: 512 * 1024 * 1024 });
    assert.equal(c.maxSocketsPerAccount, 4);
    assert.deepEqual(c.trustedProxies, ['10.0.0.0/8', '192.0.2.7', 'fd00::/8', '::1']);
    assert.equal(c.trustProxy, true);
    for (const [name, value] of [
      ['PARLEY_TRUSTED_PROXIES', 'localhost'],
      ['PARLEY_TRUSTED_PROXIES', '10.0.0.0/33'],
      ['PARLEY_TRUSTED_PROXIES', '10.0.0.1,'],
      ['PARLEY_TRUSTED_PROXIES', '::1/129'],
      ['PARLEY_TRUSTED_PROXIES', '10.0.0.0/8/1'],
      ['PARLEY_QUOTA_QUEUED_BYTES', '-1'],
      ['PARLEY_QUOTA_QUEUED_BYTES', '100'],
      ['PARLEY_QUOTA_BLOB_BYTES', 'lots'],
      ['PARLEY_MAX_SOCKETS_PER_ACCOUNT', '0'],
      ['PARLEY_MAX_SOCKETS_PER_ACCOUNT', '2.5'],
    ] as const) {
      assert.throws(() => configFromEnv({ [name]: value }), (e: unknown) => e instanceof ConfigError && e.message.includes(name), `${name}=${value}`);
    }
  });

  it('takes the VAPID contact from PARLEY_VAPID_SUBJECT (mailto: or https:), never local http push endpoints', () => {
    assert.equal(configFromEnv({}).push.subject, 'mailto:postmaster@localhost');
    assert.equal(configFromEnv({ PARLEY_VAPID_SUBJECT: 'mailto:ops@example.org' }).push.subject, 'mailto:ops@example.org');
    assert.equal(configFromEnv({ PARLEY_VAPID_SUBJECT: 'https://example.org/contact' }).push.subject, 'https://example.org/contact');
    for (const bad of ['ops@example.org', 'http://example.org', 'mailto:', 'https://']) {
      assert.throws(() => configFromEnv({ PARLEY_VAPID_SUBJECT: bad }), (e: unknown) => e instanceof ConfigError && e.message.includes('PARLEY_VAPID_SUBJECT'), bad);
    }
    assert.equal(configFromEnv({}).push.allowLocalHttp, false);
    assert.equal(configFromEnv({}).push.coalesceMs, 5000);
  });

  it('serves metrics only when PARLEY_METRICS_ADDR names a separate host:port', () => {
    assert.equal(configFromEnv({}).metricsAddr, undefined, 'off by default');
    assert.equal(configFromEnv({ PARLEY_METRICS_ADDR: '' }).metricsAddr, undefined);
    assert.deepEqual(configFromEnv({ PARLEY_METRICS_ADDR: '127.0.0.1:9464' }).metricsAddr, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(configFromEnv({ PARLEY_METRICS_ADDR: '[::1]:9464' }).metricsAddr, { host: '::1', port: 9464 });
    assert.deepEqual(configFromEnv({ PARLEY_METRICS_ADDR: 'localhost:0' }).metricsAddr, { host: 'localhost', port: 0 });
    assert.deepEqual(configFromEnv({ PARLEY_METRICS_ADDR: '0.0.0.0:9464', PORT: '8080' }).metricsAddr, { host: '0.0.0.0', port: 9464 });
    for (const bad of ['9464', ':9464', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:-1', '::1:9464', '[127.0.0.1]:9464', '[::1]', 'http://127.0.0.1:9464', '127.0.0.1:9464/metrics', '1.2.3:9464', 'a b:1']) {
      assert.throws(() => configFromEnv({ PARLEY_METRICS_ADDR: bad }), (e: unknown) => e instanceof ConfigError && e.message.includes('PARLEY_METRICS_ADDR'), bad);
    }
    // Never on the public port.
    assert.throws(() => configFromEnv({ PARLEY_METRICS_ADDR: '127.0.0.1:8080' }), (e: unknown) => e instanceof ConfigError && /public port/.test(e.message));
    assert.throws(() => configFromEnv({ PORT: '9464', PARLEY_METRICS_ADDR: '0.0.0.0:9464' }), ConfigError);
  });

  it('reads SQLite durability (full by default, or normal) and refuses anything else', () => {
    assert.equal(configFromEnv({}).sqliteSynchronous, 'full');
    assert.equal(configFromEnv({ PARLEY_SQLITE_SYNCHRONOUS: 'normal' }).sqliteSynchronous, 'normal');
    assert.equal(configFromEnv({ PARLEY_SQLITE_SYNCHRONOUS: 'full' }).sqliteSynchronous, 'full');
    for (const bad of ['off', 'FULL', 'extra', '1']) {
      assert.throws(() => configFromEnv({ PARLEY_SQLITE_SYNCHRONOUS: bad }), (e: unknown) => e instanceof ConfigError && e.message.includes('PARLEY_SQLITE_SYNCHRONOUS'), bad);
    }
  });
});
