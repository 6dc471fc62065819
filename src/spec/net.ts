/** IPv4 address and CIDR helpers over ipaddr.js (knit is IPv4-only for now). */
import ipaddr from 'ipaddr.js';

export type Cidr = { readonly network: ipaddr.IPv4; readonly prefix: number; readonly text: string };

// A spec with thousands of nodes asks about each address several times (schema refinements, overlap
// and subnet checks): each string is parsed once.
const parsed = new Map<string, ipaddr.IPv4 | null>();
function v4(s: string): ipaddr.IPv4 | null {
  let ip = parsed.get(s);
  if (ip === undefined) parsed.set(s, (ip = ipaddr.IPv4.isValidFourPartDecimal(s) ? ipaddr.IPv4.parse(s) : null));
  return ip;
}
/** The address, parsed; throws on a string that is not a dotted-quad IPv4 address. */
function parseV4(s: string): ipaddr.IPv4 {
  const ip = v4(s);
  if (!ip) throw new Error(`${JSON.stringify(s)} is not an IPv4 address`);
  return ip;
}

export const isIPv4 = (s: string): boolean => v4(s) !== null;

/** An IPv4 (dotted quad) or IPv6 address: what a certificate SAN or a reachability target may be. */
export const isIPAddress = (s: string): boolean => isIPv4(s) || (!s.includes('%') && ipaddr.IPv6.isValid(s)); // no zone: Go's net.ParseIP has none

export function parseCidr(text: string): Cidr | undefined {
  const [addr, bits, ...rest] = text.split('/');
  if (rest.length > 0 || addr === undefined || bits === undefined || !/^\d{1,2}$/.test(bits)) return undefined;
  if (!isIPv4(addr)) return undefined;
  const prefix = Number(bits);
  if (prefix > 32) return undefined;
  const network = ipaddr.IPv4.networkAddressFromCIDR(text);
  return { network, prefix, text };
}

/** True when the address is the network address of its prefix (10.244.0.0/16, not 10.244.1.0/16). */
export const isNetworkAligned = (c: Cidr): boolean => c.network.toString() === c.text.split('/')[0];

export const cidrContains = (c: Cidr, ip: string): boolean => parseV4(ip).match(c.network, c.prefix);

/** True when every address of `inner` lies in `outer` (10.0.0.0/16 covers 10.0.3.0/24). */
export const cidrCovers = (outer: Cidr, inner: Cidr): boolean => outer.prefix <= inner.prefix && inner.network.match(outer.network, outer.prefix);

export const cidrsOverlap = (a: Cidr, b: Cidr): boolean =>
  a.network.match(b.network, b.prefix) || b.network.match(a.network, a.prefix);

/** Ranges that can never be an Internet-facing (public/EIP) address. TEST-NETs are allowed: docs use them. */
const NON_PUBLIC_RANGES = new Set(['private', 'loopback', 'linkLocal', 'carrierGradeNat', 'unspecified', 'broadcast', 'multicast']);

export const isPublicIPv4 = (ip: string): boolean => !NON_PUBLIC_RANGES.has(parseV4(ip).range());

/** The /prefix network an address falls into, e.g. sameSubnet('172.16.0.10','172.16.0.20',24). */
export const sameSubnet = (a: string, b: string, prefix: number): boolean =>
  parseV4(a).match(parseV4(b), prefix);
