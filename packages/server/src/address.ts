import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * The client's address, as an in-memory rate-limit key only: never stored,
 * never logged.
 *
 * Behind a reverse proxy every connection comes from the proxy, so for a
 * connection from a trusted proxy the address is taken from X-Forwarded-For:
 * walking from the right (each proxy appends the address it saw), the first
 * hop that is not itself a trusted proxy. Anything to the left of it was
 * written by the client and is never used. A header longer than
 * MAX_FORWARDED_BYTES or with a hop that is not an IP address is ignored and
 * the proxy's own address used: rate limits then fall on the proxy, never on
 * an address an attacker chose.
 */

export const MAX_FORWARDED_BYTES = 1024;

export interface AddressRange {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8", "::1", "fd00::/8" → a range; undefined when it is not one. */
export function parseAddressRange(text: string): AddressRange | undefined {
  const [address = '', prefixText, extra] = text.split('/');
  if (extra !== undefined) return undefined;
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** An IPv4-mapped IPv6 address ("::ffff:192.0.2.1") is the IPv4 address it maps. */
function unmap(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}

/** A set of address ranges (the trusted proxies). */
export class AddressSet {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(ranges: readonly AddressRange[]) {
    for (const r of ranges) this.list.addSubnet(r.address, r.prefix, r.family);
    this.size = ranges.length;
  }

  has(address: string): boolean {
    const a = unmap(address);
    const v = isIP(a);
    if (v === 0 || this.size === 0) return false;
    return this.list.check(a, v === 4 ? 'ipv4' : 'ipv6');
  }
}

const LOOPBACK = ['127.0.0.0/8', '::1'];

const sets = new WeakMap<object, AddressSet>();

/** The trusted proxies of a configuration (PARLEY_TRUSTED_PROXIES, plus loopback with PARLEY_TRUST_PROXY=on). */
export function trustedProxiesOf(config: { trustProxy: boolean; trustedProxies: readonly string[] }): AddressSet {
  let set = sets.get(config);
  if (!set) {
    const texts = [...config.trustedProxies, ...(config.trustProxy ? LOOPBACK : [])];
    const ranges = texts.map(parseAddressRange).filter((r): r is AddressRange => r !== undefined);
    set = new AddressSet(ranges);
    sets.set(config, set);
  }
  return set;
}

/** The client address of a request (see above); 'unknown' when the socket has none. */
export function clientAddress(req: IncomingMessage, trusted: AddressSet): string {
  const peer = unmap(req.socket.remoteAddress ?? '');
  if (peer === '' || !trusted.has(peer)) return peer || 'unknown';
  const header = req.headers['x-forwarded-for'];
  if (typeof header !== 'string' || header.length === 0 || header.length > MAX_FORWARDED_BYTES) return peer;
  const hops = header.split(',');
  let leftmost = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unmap((hops[i] ?? '').trim());
    if (isIP(hop) === 0) return peer;
    if (!trusted.has(hop)) return hop;
    leftmost = hop;
  }
  // Every hop is a trusted proxy: the request started inside the trusted network.
  return leftmost;
}

/**
 * The rate-limit key of an address: IPv4 as is, IPv6 by its /64 (one
 * subscriber usually holds a whole /64, so per-address limits would not hold
 * otherwise). Bounded length whatever the input.
 */
export function addressKey(address: string): string {
  const a = unmap(address);
  if (isIP(a) !== 6) return a.slice(0, 64);
  const [head = '', tail = ''] = a.split('%')[0]?.split('::') ?? [];
  const left = head === '' ? [] : head.split(':');
  const right = a.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  // An embedded IPv4 tail takes two groups; only the first four groups matter here.
  const fill = 8 - left.length - right.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = a.includes('::') ? [...left, ...Array<string>(Math.max(0, fill)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (g.includes('.') ? g : g.toLowerCase().replace(/^0+(?=.)/, '')))
    .join(':')}::/64`;
}
