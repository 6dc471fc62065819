/** IPv4 address and CIDR helpers over ipaddr.js (knit is IPv4-only for now). */
import ipaddr from 'ipaddr.js';

export type Cidr = { readonly network: ipaddr.IPv4; readonly prefix: number; readonly text: string };

export const isIPv4 = (s: string): boolean => ipaddr.IPv4.isValidFourPartDecimal(s);

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

export const cidrContains = (c: Cidr, ip: string): boolean => ipaddr.IPv4.parse(ip).match(c.network, c.prefix);

/** True when every address of `inner` lies in `outer` (10.0.0.0/16 covers 10.0.3.0/24). */
export const cidrCovers = (outer: Cidr, inner: Cidr): boolean => outer.prefix <= inner.prefix && inner.network.match(outer.network, outer.prefix);

export const cidrsOverlap = (a: Cidr, b: Cidr): boolean =>
  a.network.match(b.network, b.prefix) || b.network.match(a.network, a.prefix);

/** Ranges that can never be an Internet-facing (public/EIP) address. TEST-NETs are allowed: docs use them. */
const NON_PUBLIC_RANGES = new Set(['private', 'loopback', 'linkLocal', 'carrierGradeNat', 'unspecified', 'broadcast', 'multicast']);

export const isPublicIPv4 = (ip: string): boolean => !NON_PUBLIC_RANGES.has(ipaddr.IPv4.parse(ip).range());

/** The /prefix network an address falls into, e.g. sameSubnet('172.16.0.10','172.16.0.20',24). */
export const sameSubnet = (a: string, b: string, prefix: number): boolean =>
  ipaddr.IPv4.parse(a).match(ipaddr.IPv4.parse(b), prefix);
