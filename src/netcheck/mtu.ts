/**
 * Path MTU discovery the way an operator does it by hand, with `ping -M do -s SIZE` (Don't Fragment):
 * the search is pure here, the pings are injected. Routers that cannot forward a packet answer
 * "fragmentation needed (mtu = N)" and the kernel then refuses larger packets locally with the same
 * number, so a reported MTU is tried first; without any such answer it bisects (a PMTU black hole).
 */
import type { MtuOutcome, PingAttempt } from './types.js';

/** IPv4 (20) + ICMP (8) headers: `ping -s` takes the payload, the MTU counts the whole packet. */
export const PING_HEADERS = 28;
/** Every IPv4 link carries 576 bytes (RFC 791); the search never goes below. */
export const MIN_MTU = 576;
/** The largest IPv4 packet; loopback's 65536 cannot be pinged in full. */
export const MAX_IP_PACKET = 65535;

/** `ping` payload size for a packet of `mtu` bytes. */
export const pingPayload = (mtu: number): number => Math.min(mtu, MAX_IP_PACKET) - PING_HEADERS;

/**
 * The MTU a failed ping's output names: iputils prints `Frag needed and DF set (mtu = 1400)` for a
 * router's ICMP and `local error: message too long, mtu=1400` when the kernel's cached path MTU (or
 * the interface's) is smaller than the packet.
 */
export function parsePingHint(output: string): number | undefined {
  const m = /\bmtu\s*=\s*(\d+)/i.exec(output);
  return m ? Number(m[1]) : undefined;
}

/**
 * Finds the largest packet that gets through, up to `hostMtu` (nothing larger leaves this node).
 * `ping(mtu)` sends one packet of `mtu` bytes with DF set. `cached` is the path MTU the kernel already
 * learned for the peer (`ip route get`): larger packets would only fail locally, so the search starts
 * there. A limit named by ICMP is believed at once (nothing larger can pass that router) and tried next.
 */
export async function searchPathMtu(ping: (mtu: number) => Promise<PingAttempt>, hostMtu: number, cached?: number): Promise<MtuOutcome> {
  const top = Math.min(hostMtu, MAX_IP_PACKET);
  let pings = 0;
  let icmpSeen = cached !== undefined && cached < top;
  /** Smallest size known not to pass. */
  let hi = icmpSeen ? Math.max(MIN_MTU + 1, cached! + 1) : top + 1;
  /** Whether the last failure named a limit (then hi - 1 is that limit: try it next). */
  let named = icmpSeen;
  const attempt = async (mtu: number): Promise<boolean> => {
    pings++;
    const r = await ping(mtu);
    if (r.ok) return true;
    hi = Math.min(hi, mtu);
    named = r.hint !== undefined && r.hint < mtu;
    if (named) {
      icmpSeen = true;
      hi = Math.max(MIN_MTU + 1, Math.min(hi, r.hint! + 1));
    }
    return false;
  };

  const first = hi - 1;
  if (await attempt(first)) return { kind: 'measured', pathMtu: first, capped: first === top, icmpSeen, pings };
  const wasNamed = named;
  if (!(await attempt(MIN_MTU))) return { kind: 'no-echo', pings };
  named = wasNamed;
  let lo = MIN_MTU;
  while (hi - lo > 1) {
    const candidate = named ? hi - 1 : Math.floor((lo + hi) / 2);
    if (await attempt(candidate)) {
      lo = candidate;
      named = false;
    }
  }
  return { kind: 'measured', pathMtu: lo, capped: false, icmpSeen, pings };
}

/** `ip -j route get PEER`: the interface and source address this node uses toward the peer, and a cached path MTU. */
export function parseRouteGet(json: string): { dev?: string; src?: string; cachedMtu?: number } {
  try {
    const routes = JSON.parse(json) as { dev?: string; prefsrc?: string; metrics?: { mtu?: number }[] }[];
    const r = routes[0];
    /** A path MTU the kernel learned from ICMP shows as the route's mtu metric (with `cache`, `expires`). */
    const cachedMtu = r?.metrics?.find((m) => typeof m.mtu === 'number')?.mtu;
    return { ...(r?.dev ? { dev: r.dev } : {}), ...(r?.prefsrc ? { src: r.prefsrc } : {}), ...(cachedMtu !== undefined ? { cachedMtu } : {}) };
  } catch {
    return {};
  }
}

/** `ip -j link show dev DEV`: the interface's MTU. */
export function parseLinkMtu(json: string): number | undefined {
  try {
    const mtu = (JSON.parse(json) as { mtu?: number }[])[0]?.mtu;
    return typeof mtu === 'number' ? mtu : undefined;
  } catch {
    return undefined;
  }
}
