import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AddressSet, addressKey, clientAddress, MAX_FORWARDED_BYTES, parseAddressRange, trustedProxiesOf } from './address.js';

const req = (remoteAddress: string | undefined, xff?: string | string[]) =>
  ({ socket: { remoteAddress }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

describe('client addresses', () => {
  it('parses addresses and CIDR ranges strictly', () => {
    assert.deepEqual(parseAddressRange('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseAddressRange('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['', 'localhost', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/a', '::1/129', '1.2.3.4/8/1', '1.2.3', ' 1.2.3.4']) assert.equal(parseAddressRange(bad), undefined, bad);
  });

  it('matches trusted proxies, IPv4-mapped addresses included', () => {
    const set = trustedProxiesOf({ trustProxy: true, trustedProxies: ['10.1.0.0/16', 'fd00::/8'] });
    for (const yes of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '10.1.200.3', 'fd12::5']) assert.ok(set.has(yes), yes);
    for (const no of ['10.2.0.1', '192.0.2.1', 'fe80::1', 'garbage', '']) assert.ok(!set.has(no), no);
    assert.ok(!new AddressSet([]).has('127.0.0.1'));
  });

  it('takes the right-most X-Forwarded-For hop that is not a trusted proxy, only from a trusted peer', () => {
    const trusted = trustedProxiesOf({ trustProxy: false, trustedProxies: ['10.0.0.0/8'] });
    assert.equal(clientAddress(req('192.0.2.1', '203.0.113.5'), trusted), '192.0.2.1', 'an untrusted peer is the client, whatever it claims');
    assert.equal(clientAddress(req('10.0.0.2', '203.0.113.5'), trusted), '203.0.113.5');
    assert.equal(clientAddress(req('10.0.0.2', '198.51.100.1, 203.0.113.5'), trusted), '203.0.113.5', 'a hop the client wrote is never used');
    assert.equal(clientAddress(req('10.0.0.2', '198.51.100.1, 203.0.113.5, 10.0.0.9'), trusted), '203.0.113.5', 'trusted hops are skipped');
    assert.equal(clientAddress(req('10.0.0.2', '10.0.0.7, 10.0.0.9'), trusted), '10.0.0.7', 'all trusted: the left-most');
    assert.equal(clientAddress(req('10.0.0.2'), trusted), '10.0.0.2', 'no header: the proxy');
    assert.equal(clientAddress(req('10.0.0.2', 'not-an-ip'), trusted), '10.0.0.2', 'garbage: the proxy');
    assert.equal(clientAddress(req('10.0.0.2', `${'1.2.3.4, '.repeat(200)}203.0.113.5`), trusted), '10.0.0.2', 'too long: the proxy');
    assert.equal(clientAddress(req('::ffff:10.0.0.2', '203.0.113.5'), trusted), '203.0.113.5');
    assert.equal(clientAddress(req(undefined), trusted), 'unknown');
  });

  it('never returns anything but the peer or a hop to the right of every untrusted one, and bounds the key (property)', () => {
    const trusted = trustedProxiesOf({ trustProxy: true, trustedProxies: [] });
    const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
    const hop = fc.oneof(ipv4, fc.constant('127.0.0.1'), fc.constant('::ffff:127.0.0.1'), fc.string({ maxLength: 20 }).filter((x) => !x.includes(',')), fc.ipV6());
    fc.assert(
      fc.property(fc.array(hop, { maxLength: 40 }), (hops) => {
        const header = hops.join(',');
        const got = clientAddress(req('127.0.0.1', header), trusted);
        const lastUntrusted = [...hops].reverse().find((h) => !trusted.has(h.trim()));
        const unmapped = (h: string | undefined) => h?.trim().replace(/^::ffff:(?=\d+\.)/i, '');
        const ok = got === '127.0.0.1' || (header.length <= MAX_FORWARDED_BYTES && (got === unmapped(lastUntrusted) || hops.every((h) => trusted.has(h.trim()))));
        assert.ok(ok, `${JSON.stringify(hops)} → ${got}`);
        assert.ok(addressKey(got).length <= 64);
      }),
      { numRuns: 500 },
    );
  });

  it('keys IPv6 addresses by their /64 and IPv4 ones as they are', () => {
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8:1:2::9'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:DB8:0001:0002:ffff::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
  });
});
