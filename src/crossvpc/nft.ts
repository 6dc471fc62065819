/**
 * The cross-VPC data path: a stateless 1:1 address map in one nftables table (`ip knit`).
 *
 * An EIP is 1:1 NAT in the cloud; the NIC holds only the private IP. To reach a peer's private IP,
 * every packet's destination is rewritten to the peer's public IP AFTER all NAT on the way out
 * (postrouting, priority 300: kube-proxy's Service DNAT and the CNI's masquerade have run and
 * conntrack has recorded the private tuple), and a peer's public source is rewritten back to its
 * private IP BEFORE conntrack on the way in (prerouting, -310; conntrack is -200). Conntrack, kube-proxy,
 * the CNI and the applications see only private addresses, so the map composes with any NAT, in any
 * order, whoever writes it; one hash lookup per packet, whatever the number of peers.
 *
 * A stateless rewrite breaks path MTU discovery for the mapped flows (an ICMP "fragmentation needed"
 * quotes the rewritten header, which no socket matches), so TCP SYNs to and from mapped peers get
 * their MSS clamped to what the path between VPCs carries.
 *
 * Across VPCs the overlay listens on public addresses, and VXLAN has no authentication: anyone who can
 * send to a node's EIP could put packets into the pod network. So, before the rewrite (the source is
 * checked as it arrived), encapsulated traffic to this host is dropped unless it comes from a cluster
 * node's private or public address.
 *
 * Pure: peers in, nft script text out; `nft -j list table` JSON in, state out.
 */
import { CROSSVPC } from '../defaults.js';
import type { CrossVpcPeer } from './peers.js';

/** `ip knit`, as nft commands name it. */
export const NFT_TABLE = `${CROSSVPC.nftFamily} ${CROSSVPC.nftTable}`;
export const NFT_MAPS = { toPublic: 'peer_public', toPrivate: 'peer_private' } as const;
/** The set of every cluster node's addresses, private and public: the only sources the overlay answers. */
export const NFT_NODES_SET = 'nodes';

/** IPv4 and TCP headers without options: what an MTU leaves for a TCP segment. */
const TCP_IP_HEADERS = 40;
export const mssForMtu = (mtu: number): number => mtu - TCP_IP_HEADERS;

export interface NftMapOptions {
  /** The MSS that TCP SYNs to and from mapped peers are clamped to. */
  mss: number;
  /** What the CNI's datapath receives from other nodes (its tunnel ports), guarded to cluster nodes. */
  overlay: readonly OverlayPort[];
}

export interface OverlayPort {
  protocol: 'udp' | 'tcp' | 'ip';
  /** Port for udp/tcp; IP protocol number for `ip`. */
  number: number;
}

/** What the table holds for a node: its peers outside the VPC, and every node's addresses. */
export interface NftWant {
  peers: readonly CrossVpcPeer[];
  nodes: readonly string[];
}

const describePort = (p: OverlayPort): string => (p.protocol === 'ip' ? `IP protocol ${p.number}` : `${p.number}/${p.protocol}`);
const matchPort = (p: OverlayPort): string => (p.protocol === 'ip' ? `ip protocol ${p.number}` : `${p.protocol} dport ${p.number}`);

interface Chain {
  name: string;
  type: 'filter' | 'nat';
  hook: 'postrouting' | 'prerouting' | 'output';
  priority: number;
  rules: { expr: string; comment: string }[];
}

/** Everything in the table but the map elements. Each rule's comment names it, so the live table can be compared. */
function chains({ mss, overlay }: NftMapOptions): Chain[] {
  // `tcp flags syn` first: the map lookup of the clamp runs for SYN and SYN-ACK only
  const clamp = `tcp option maxseg size > ${mss} tcp option maxseg size set ${mss}`;
  const { toPublic, toPrivate } = NFT_MAPS;
  return [
    {
      name: 'postrouting',
      type: 'filter',
      hook: 'postrouting',
      priority: CROSSVPC.outPriority,
      rules: [
        { expr: `tcp flags syn ip daddr @${toPublic} ${clamp}`, comment: `knit: clamp the TCP MSS to ${mss} toward mapped peers` },
        { expr: `ip daddr set ip daddr map @${toPublic}`, comment: 'knit: a peer private IP becomes its public IP' },
      ],
    },
    {
      name: 'prerouting',
      type: 'filter',
      hook: 'prerouting',
      priority: CROSSVPC.inPriority,
      rules: [
        // to this host only: pods may speak VXLAN or BGP to anything outside the cluster
        ...overlay.map((p) => ({
          expr: `fib daddr type local ip saddr != @${NFT_NODES_SET} ${matchPort(p)} drop`,
          comment: `knit: only cluster nodes may send ${describePort(p)} here`,
        })),
        { expr: `tcp flags syn ip saddr @${toPrivate} ${clamp}`, comment: `knit: clamp the TCP MSS to ${mss} from mapped peers` },
        { expr: `ip saddr set ip saddr map @${toPrivate}`, comment: 'knit: a peer public IP becomes its private IP' },
      ],
    },
    // A connection addressed to a peer's PUBLIC IP (kubelets and kubeadm dial the control plane's
    // endpoint) would see its replies turned into the private IP above and match no socket: such
    // connections are DNATed to the private IP once, so conntrack expects the rewritten replies and
    // gives the socket back the public address it dialled.
    ...(['output', 'prerouting'] as const).map((hook) => ({
      name: `${hook}_nat`,
      type: 'nat' as const,
      hook,
      priority: CROSSVPC.dnatPriority,
      rules: [{ expr: `dnat to ip daddr map @${toPrivate}`, comment: "knit: a connection to a peer's public IP goes to its private IP" }],
    })),
  ];
}

const MAP_TYPE = 'ipv4_addr : ipv4_addr';

/**
 * The table without its elements, as one comparable line per object. The live table is compared with
 * it: equal shapes mean only elements need to change.
 */
export const nftShape = (opts: NftMapOptions): string[] => [
  ...Object.values(NFT_MAPS).map((m) => `map ${m} ${MAP_TYPE}`),
  `set ${NFT_NODES_SET} ipv4_addr`,
  ...chains(opts).map((c) => `chain ${c.name} ${c.type} ${c.hook} ${c.priority}: ${c.rules.map((r) => r.comment).join(' | ')}`),
];

/** The two maps a set of peers asks for (private → public, and public → private), and the node set. */
export interface AddressMaps {
  toPublic: Map<string, string>;
  toPrivate: Map<string, string>;
  nodes: Set<string>;
}

export const addressMaps = ({ peers, nodes }: NftWant): AddressMaps => ({
  toPublic: new Map(peers.map((p) => [p.privateIP, p.publicIP])),
  toPrivate: new Map(peers.map((p) => [p.publicIP, p.privateIP])),
  nodes: new Set(nodes),
});

type MapKey = keyof typeof NFT_MAPS;
const MAP_KEYS = Object.keys(NFT_MAPS) as MapKey[];

const elements = (m: ReadonlyMap<string, string>): string => [...m].map(([k, v]) => `${k} : ${v}`).join(', ');

/**
 * The whole table as one nft script. Loading it is one atomic transaction that replaces any earlier
 * table (`table` declares it so that `delete` cannot fail on a fresh host), so the boot unit can load
 * it any number of times.
 */
export function renderNftTable(want: NftWant, opts: NftMapOptions, header: readonly string[] = []): string {
  const maps = addressMaps(want);
  const lines = [...header.map((h) => `# ${h}`), `table ${NFT_TABLE}`, `delete table ${NFT_TABLE}`, `table ${NFT_TABLE} {`];
  for (const key of MAP_KEYS) {
    lines.push(`\tmap ${NFT_MAPS[key]} {`, `\t\ttype ${MAP_TYPE}`);
    if (maps[key].size > 0) lines.push(`\t\telements = { ${elements(maps[key])} }`);
    lines.push('\t}');
  }
  lines.push(`\tset ${NFT_NODES_SET} {`, '\t\ttype ipv4_addr');
  if (maps.nodes.size > 0) lines.push(`\t\telements = { ${[...maps.nodes].join(', ')} }`);
  lines.push('\t}');
  for (const c of chains(opts)) {
    lines.push(`\tchain ${c.name} {`, `\t\ttype ${c.type} hook ${c.hook} priority ${c.priority}; policy accept;`);
    for (const r of c.rules) lines.push(`\t\t${r.expr} comment "${r.comment}"`);
    lines.push('\t}');
  }
  lines.push('}', '');
  return lines.join('\n');
}

/** knit's table as the kernel has it. */
export interface NftTableState {
  shape: string[];
  maps: AddressMaps;
}

interface NftJsonObject {
  map?: { name: string; type: string; map: string; elem?: unknown[] };
  set?: { name: string; type: string; elem?: unknown[] };
  chain?: { name: string; type?: string; hook?: string; prio?: number };
  rule?: { chain: string; comment?: string };
}

/** A map element as `nft -j` prints it: `[key, value]` (plain elements; knit writes no others). */
const pair = (e: unknown): [string, string] | undefined =>
  Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string' ? [e[0], e[1]] : undefined;

/** Reads `nft -j list table ip knit`. Objects knit does not write make the shape differ, so they are replaced. */
export function parseNftTable(json: string): NftTableState {
  const objects = ((JSON.parse(json) as { nftables?: NftJsonObject[] }).nftables ?? []);
  const maps: AddressMaps = { toPublic: new Map(), toPrivate: new Map(), nodes: new Set() };
  const shape: string[] = [];
  const comments = new Map<string, string[]>();
  for (const o of objects) if (o.rule) (comments.get(o.rule.chain) ?? comments.set(o.rule.chain, []).get(o.rule.chain)!).push(o.rule.comment ?? '(no comment)');
  for (const o of objects) {
    if (o.map) {
      shape.push(`map ${o.map.name} ${o.map.type} : ${o.map.map}`);
      const key = MAP_KEYS.find((k) => NFT_MAPS[k] === o.map!.name);
      for (const e of o.map.elem ?? []) {
        const p = pair(e);
        if (key && p) maps[key].set(p[0], p[1]);
        else shape.push(`element ${JSON.stringify(e)} of ${o.map.name}`);
      }
    }
    if (o.set) {
      shape.push(`set ${o.set.name} ${o.set.type}`);
      for (const e of o.set.elem ?? []) {
        if (o.set.name === NFT_NODES_SET && typeof e === 'string') maps.nodes.add(e);
        else shape.push(`element ${JSON.stringify(e)} of ${o.set.name}`);
      }
    }
    if (o.chain) shape.push(`chain ${o.chain.name} ${o.chain.type} ${o.chain.hook} ${o.chain.prio}: ${(comments.get(o.chain.name) ?? []).join(' | ')}`);
  }
  return { shape, maps };
}

/** One map's entries that must go (absent or different) and that must come (new or different). */
function diffMap(want: ReadonlyMap<string, string>, live: ReadonlyMap<string, string>) {
  return {
    remove: [...live].filter(([k, v]) => want.get(k) !== v).map(([k]) => k),
    add: new Map([...want].filter(([k, v]) => live.get(k) !== v)),
  };
}

const diffSet = (want: ReadonlySet<string>, live: ReadonlySet<string>) => ({
  remove: [...live].filter((a) => !want.has(a)),
  add: [...want].filter((a) => !live.has(a)),
});

export const sameShape = (live: NftTableState, opts: NftMapOptions): boolean => live.shape.join('\n') === nftShape(opts).join('\n');

/**
 * The nft script that turns the live table into the wanted one; undefined when they are equal. When
 * the table is there with the same shape, only elements are added and deleted, in one transaction
 * (rules and established flows are untouched); otherwise the table is (re)created whole.
 */
export function planNftUpdate(wanted: NftWant, live: NftTableState | undefined, opts: NftMapOptions): string | undefined {
  if (!live || !sameShape(live, opts)) return renderNftTable(wanted, opts);
  const want = addressMaps(wanted);
  const diffs = [
    ...MAP_KEYS.map((k) => {
      const d = diffMap(want[k], live.maps[k]);
      return { name: NFT_MAPS[k], remove: d.remove, add: d.add.size > 0 ? elements(d.add) : '' };
    }),
    (() => {
      const d = diffSet(want.nodes, live.maps.nodes);
      return { name: NFT_NODES_SET, remove: d.remove, add: d.add.join(', ') };
    })(),
  ];
  const lines = [
    ...diffs.filter((d) => d.remove.length > 0).map((d) => `delete element ${NFT_TABLE} ${d.name} { ${d.remove.join(', ')} }`),
    ...diffs.filter((d) => d.add !== '').map((d) => `add element ${NFT_TABLE} ${d.name} { ${d.add} }`),
  ];
  return lines.length > 0 ? `${lines.join('\n')}\n` : undefined;
}

export const renderNftRemoval = (): string => `delete table ${NFT_TABLE}\n`;

/** How the live table differs from the wanted one, for `status` and `doctor`. */
export interface NftDrift {
  table: 'missing' | 'outdated' | 'current';
  /** Wanted entries that are absent or different (`peer_public 172.16.2.20 : 203.0.113.20`). */
  missing: string[];
  /** Live entries that are not wanted. */
  unexpected: string[];
}

export function diffNftTable(wanted: NftWant, live: NftTableState | undefined, opts: NftMapOptions): NftDrift {
  const want = addressMaps(wanted);
  const have = live?.maps ?? { toPublic: new Map(), toPrivate: new Map(), nodes: new Set<string>() };
  const drift: NftDrift = { table: !live ? 'missing' : sameShape(live, opts) ? 'current' : 'outdated', missing: [], unexpected: [] };
  for (const k of MAP_KEYS) {
    const d = diffMap(want[k], have[k]);
    drift.missing.push(...[...d.add].map(([a, b]) => `${NFT_MAPS[k]} ${a} : ${b}`));
    drift.unexpected.push(...[...have[k]].filter(([a, b]) => want[k].get(a) !== b).map(([a, b]) => `${NFT_MAPS[k]} ${a} : ${b}`));
  }
  const d = diffSet(want.nodes, have.nodes);
  drift.missing.push(...d.add.map((a) => `${NFT_NODES_SET} ${a}`));
  drift.unexpected.push(...d.remove.map((a) => `${NFT_NODES_SET} ${a}`));
  return drift;
}

export const nftInSync = (d: NftDrift): boolean => d.table === 'current' && d.missing.length === 0 && d.unexpected.length === 0;
