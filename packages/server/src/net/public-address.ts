import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Where the server may send requests that someone else chose the target of
 * (a push subscription's endpoint today; remote fetches later): only public
 * unicast addresses. A host name is checked by what it resolves to at the
 * moment of connecting — the check runs inside the connection's own lookup,
 * so a name that resolves to a public address when it is stored and to
 * 127.0.0.1 when it is used (DNS rebinding) is still refused.
 */

/** Special-purpose ranges (IANA IPv4/IPv6 special-purpose registries) that are never a push service. */
const NOT_PUBLIC = new BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
] as const) {
  NOT_PUBLIC.addSubnet(address, prefix, 'ipv4');
}
for (const [address, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID, …)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  NOT_PUBLIC.addSubnet(address, prefix, 'ipv6');
}

/** An IPv4 address carried inside an IPv6 one (mapped ::ffff:a.b.c.d, or NAT64 64:ff9b::a.b.c.d): judged as IPv4. */
function embeddedIpv4(address: string): string | undefined {
  const m = /^(?:::ffff:|64:ff9b::)(?:0:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m?.[1] !== undefined) return m[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex?.[1] === undefined || hex[2] === undefined) return undefined;
  const hi = parseInt(hex[1], 16);
  const lo = parseInt(hex[2], 16);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** Whether `address` (an IP literal) is a public unicast address. Anything that is not an IP address is not. */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 0) return false;
  if (family === 6) {
    const v4 = embeddedIpv4(bare);
    if (v4 !== undefined) return isPublicAddress(v4);
    if (/^::ffff:/i.test(bare)) return false;
  }
  return !NOT_PUBLIC.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** The error a refused address gives (its code tells it from DNS failures; the message names no address). */
export class NonPublicAddressError extends Error {
  readonly code = 'ERR_NON_PUBLIC_ADDRESS';
  constructor() {
    super('the host resolves to an address that is not public');
    this.name = 'NonPublicAddressError';
  }
}

/**
 * A `lookup` for http(s).request / net.connect: resolves the host like the
 * default one and fails the connection unless EVERY address it resolves to is
 * public (a name with one private address among public ones is refused too:
 * the connection could be made to any of them).
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  const opts: LookupOptions = options;
  const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : typeof opts.family === 'number' ? opts.family : 0;
  const query: LookupAllOptions = { all: true, family, ...(opts.hints !== undefined ? { hints: opts.hints } : {}) };
  dnsLookup(hostname, query, (err, addresses) => {
    if (err) return callback(err, '');
    if (addresses.length === 0 || !addresses.every((a) => isPublicAddress(a.address))) return callback(new NonPublicAddressError(), '');
    if (opts.all === true) return callback(null, addresses);
    const first = addresses[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
};
