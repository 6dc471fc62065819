/**
 * Turns what the probes saw into a report row: pass/fail, the likely cause in the operator's terms
 * (security group, firewalld, NAT, MTU) and the fix. Pure: the probes run in src/host/netcheck.ts.
 */
import { isIPv4 } from '../spec/net.js';
import type { MtuOutcome, MtuRequirement, NetcheckResult, PortOutcome, PortProbe } from './types.js';
import { PATH_MTU_ID } from './plan.js';

export interface ExplainContext {
  /** The address probed. */
  peer: string;
  /** The peer's node name, when the spec names it. */
  peerName?: string;
  /** The address the peer's listener saw this node as (after NAT), when any probe got that far. */
  seenAs?: string;
  /** Whether any port answered at all (a reached peer points at a filter, not at the address). */
  anyAnswer: boolean;
  /** Whether a TCP port got through (a UDP port that does not is then a protocol-specific rule). */
  tcpAnswer: boolean;
  timeoutMs: number;
}

const PRIVATE = [/^10\./, /^172\.(1[6-9]|2\d|3[01])\./, /^192\.168\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./];
const isPrivate = (ip: string): boolean => isIPv4(ip) && PRIVATE.some((re) => re.test(ip));

const peerLabel = (c: ExplainContext): string => (c.peerName ? `${c.peerName} (${c.peer})` : c.peer);
/** Where the peer's security group rule must allow traffic from. */
const source = (c: ExplainContext): string => (c.seenAs ? `${c.seenAs} (the address ${c.peer} sees this node as)` : "this node's public IP");

function unreachableAddress(c: ExplainContext): string {
  if (c.anyAnswer) return '';
  const vpc = isPrivate(c.peer) ? `; ${c.peer} is a private address, which another VPC cannot route to: probe the peer's public IP (EIP)` : '';
  return ` — and nothing else answered either: also check that ${c.peer} is up and is the right address${vpc}`;
}

const firewalldFix = (c: ExplainContext, port: number, protocol: 'tcp' | 'udp'): string =>
  `on ${peerLabel(c)}: \`firewall-cmd --permanent --add-port=${port}/${protocol} && firewall-cmd --reload\` (or stop firewalld)`;

const listenerFix = (c: ExplainContext): string =>
  `run \`knit netcheck --listen\` on ${peerLabel(c)} with the same --cni/-f (before install)`;

/** The report row for a port probe. */
export function explainPort(p: PortProbe, o: PortOutcome | undefined, c: ExplainContext): NetcheckResult {
  const row = { id: p.id, protocol: p.protocol, port: p.port, what: p.what, required: p.required };
  if (p.protocol === 'ip' || o === undefined)
    return {
      ...row,
      status: 'skip',
      detail: `IP protocol ${p.port} cannot be probed from user space (no raw ${p.what.split(' ').pop()} probe)`,
      cause: `not tested: ${p.what} packets are IP protocol ${p.port}, neither TCP nor UDP`,
      fix:
        `make sure the security group of ${peerLabel(c)} allows IP protocol ${p.port} from ${source(c)}; security groups with only ` +
        `TCP/UDP/ICMP/GRE rules (Alibaba Cloud's) need an "all protocols" rule for that source — or avoid IPIP (--calico-mode vxlan)`,
    };
  if (o.ok) {
    const seen = o.seenAs ? `, seen as ${o.seenAs}` : '';
    const how = p.protocol === 'tcp' ? `connected in ${o.ms} ms` : `answered in ${o.ms} ms`;
    const by = o.byListener ? '' : ' (by a running service, not knit netcheck --listen)';
    return { ...row, status: 'pass', detail: `${how}${seen}${by}`, ms: o.ms, ...(o.seenAs ? { seenAs: o.seenAs } : {}) };
  }
  const failed = { ...row, status: 'fail' as const, ms: o.ms };
  const proto = p.protocol;
  switch (o.failure) {
    case 'timeout': {
      const detail =
        proto === 'udp' ? `no answer to ${o.attempts ?? 1} datagram${o.attempts === 1 ? '' : 's'} within ${c.timeoutMs} ms` : `no answer within ${c.timeoutMs} ms`;
      const cause =
        proto === 'udp' && c.tcpAnswer
          ? `dropped on the way: TCP reaches ${c.peer} but udp/${p.port} does not — a security group that allows only TCP (the usual case), or a firewall that drops UDP`
          : `dropped on the way: the security group of ${peerLabel(c)} (inbound ${proto}/${p.port}) or a firewall in between (a DROP rule, a NAT that does not forward it)${unreachableAddress(c)}`;
      return {
        ...failed,
        detail,
        cause,
        fix: `allow inbound ${proto}/${p.port} from ${source(c)} in the security group of ${peerLabel(c)}${proto === 'udp' ? ' (TCP rules do not cover UDP)' : ''}, and outbound on this node's if it restricts egress`,
      };
    }
    case 'refused':
      return {
        ...failed,
        detail: proto === 'tcp' ? 'connection refused' : 'port unreachable (ICMP)',
        cause:
          proto === 'tcp'
            ? `${c.peer} answered, but nothing listens on tcp/${p.port} (or a REJECT rule with tcp-reset)`
            : `${c.peer} answered, but nothing listens on udp/${p.port}${p.origin === 'cni' ? ` (once the CNI runs, its ${p.what} device owns the port and does not answer probes)` : ''}`,
        fix: proto === 'tcp' ? `${listenerFix(c)}, or start ${p.what} there (after install)` : `${listenerFix(c)}; after install the data path itself is the test (knit verify)`,
      };
    case 'host-unreachable':
      return {
        ...failed,
        detail: 'rejected: ICMP host unreachable',
        cause: `rejected with an ICMP "host prohibited": firewalld's default on ${peerLabel(c)} rejects ports it does not allow (or a REJECT rule in between; on the same subnet, a peer that is down)`,
        fix: firewalldFix(c, p.port, proto),
      };
    case 'net-unreachable':
      return { ...failed, detail: 'network unreachable', cause: `this node has no route to ${c.peer}`, fix: `check this node's routes (\`ip route get ${c.peer}\`)` };
    default:
      return { ...failed, detail: `probe failed: ${o.message ?? 'unknown error'}`, cause: `the probe itself failed (${o.message ?? 'unknown error'})` };
  }
}

const needText = (r: MtuRequirement): string =>
  r.overhead > 0 ? `pod MTU ${r.podMtu} + ${r.overhead} bytes of ${r.encapsulation ?? 'encapsulation'}` : `pod MTU ${r.podMtu}, no encapsulation`;

/** The MTU to set so that packets fit a path of `pathMtu` bytes. */
function mtuFix(r: MtuRequirement, pathMtu: number, c: ExplainContext): string {
  const fits = pathMtu - r.overhead;
  if (r.field) return `set ${r.field}: ${fits} in the spec (path MTU ${pathMtu} − ${r.overhead}), or raise the MTU of the link between this node and ${peerLabel(c)}`;
  return `${r.plugin} pods use the interface MTU: lower this node's interface MTU to ${pathMtu}, or raise the MTU of the link between this node and ${peerLabel(c)}`;
}

/** The report row for the path MTU. */
export function explainMtu(r: MtuRequirement, o: MtuOutcome, c: ExplainContext): NetcheckResult {
  const row = { id: PATH_MTU_ID, protocol: 'icmp' as const, what: `${r.plugin} ${r.encapsulation ?? 'pods'}`, required: true };
  if (r.required > r.hostMtu)
    return {
      ...row,
      status: 'fail',
      detail: `${r.required} needed (${needText(r)}) > this node's interface MTU ${r.hostMtu}`,
      cause: `${r.field ?? 'the pod MTU'} is ${r.podMtu}: with the encapsulation, packets would be larger than this node can send`,
      fix: r.field ? `set ${r.field} to ${r.hostMtu - r.overhead} or less (or leave it out: knit derives it from the interface)` : `raise this node's interface MTU to ${r.required}`,
    };
  if (o.kind === 'unavailable')
    return { ...row, status: 'warn', detail: `not measured: ${o.reason}`, cause: o.reason, fix: 'install ping (iputils-ping) and run again' };
  if (o.kind === 'no-echo')
    return {
      ...row,
      status: 'warn',
      detail: `not measured: ${c.peer} answers no ping`,
      cause: `ICMP echo is blocked (security group or firewall of ${peerLabel(c)}), so the path MTU cannot be measured`,
      fix: `allow ICMP from ${source(c)} in the security group of ${peerLabel(c)} and run again`,
    };
  // capped: the largest packet this node can send got through (the requirement fits the interface, checked above)
  if (o.capped || o.pathMtu >= r.required) {
    const measured = o.capped ? `path MTU ≥ ${o.pathMtu} (${o.pathMtu < r.hostMtu ? 'the largest IPv4 packet' : "this node's interface MTU"})` : `path MTU ${o.pathMtu}`;
    return { ...row, status: 'pass', detail: `${measured}, needs ${r.required} (${needText(r)})` };
  }
  return {
    ...row,
    status: 'fail',
    detail: `path MTU ${o.pathMtu} < ${r.required} needed (${needText(r)})`,
    cause: o.icmpSeen
      ? `a link between this node and ${peerLabel(c)} carries at most ${o.pathMtu} bytes (ICMP "fragmentation needed", or the kernel's cached path MTU, which it keeps for 10 minutes): full-size pod packets would be dropped`
      : `packets over ${o.pathMtu} bytes vanish without an ICMP "fragmentation needed" (a PMTU black hole): connections that send full-size packets would stall`,
    fix: mtuFix(r, o.pathMtu, c),
  };
}
