/**
 * Encryption across the internet: flannel's WireGuard backend across the 1:1 NAT of the cluster lab
 * (test/lab/cluster-topology.ts, built without VXLAN), programmed as flannel v0.28.9 programs it
 * (test/lab/wireguard.ts; wireguard-go gives the device in user space). Each node's peers are at the
 * address flannel publishes, the private IP; knit's address map carries the tunnel to the public IPs.
 *
 * First the cluster as the cloud has it: the tunnel works inside a VPC only, and anyone can send to a
 * node's WireGuard port. Then `knit crossvpc apply` on every node with a spec that says `backend:
 * wireguard`: pod ↔ pod across VPCs goes through flannel-wg with pod IPs as sources, the router in the
 * middle (inet) sees nothing but UDP 51820 between node addresses and never the pods' cleartext, and
 * knit's guard drops a stranger's datagrams to the port before WireGuard sees them. The blocks run in
 * order and share the lab.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { podMtu } from '../src/cni/index.js';
import type { CrossVpcAction, CrossVpcOptions } from '../src/commands/crossvpc.js';
import { specSchema } from '../src/spec/schema.js';
import {
  addInternetHost,
  CLUSTER,
  INTERNET_HOST,
  NODES,
  NODE_NAMES,
  buildClusterLab,
  clusterSpecYaml,
  type ClusterLab,
  type NodeName,
} from './lab/cluster-topology.js';
import { knitCrossvpc } from './lab/knit-on-node.js';
import { Lab, describeLab, probeLabSupport } from './lab/netns.js';
import { fetchBulk, startBulkServer } from './lab/tcp.js';
import { sendUdp } from './lab/vxlan.js';
import {
  WIREGUARD,
  installFlannelWireguard,
  leaseEndpoint,
  parsePcap,
  probeWireguardSupport,
  sendMarker,
  startCapture,
  startMarkerServer,
  wg,
  wgShow,
  type CapturedPacket,
  type MarkerServer,
  type WgDevice,
} from './lab/wireguard.js';

const POD_PORT = 8080;
const BULK_PORT = 9000;
const MB = 1 << 20;
/** systemd is not in a namespace. */
const SKIP = ['crossvpc/boot'];
/** Every node address, private and public: the only ends the router may see tunnel packets between. */
const NODE_ADDRESSES = new Set<string>(NODE_NAMES.flatMap((n) => [NODES[n].privateIP, NODES[n].publicIP]));
/** Pod pairs across VPCs (both directions are sent) and one inside vpc-a. */
const ACROSS: [NodeName, NodeName][] = [['cp', 'w1'], ['cp', 'w2'], ['w1', 'w2']];
const PAIRS: [NodeName, NodeName][] = [...ACROSS.flatMap(([a, b]): [NodeName, NodeName][] => [[a, b], [b, a]]), ['cp', 'w3']];

// the cluster topology (bridge, sysctl, iptables-restore) and knit's address map (nft)
const labSupport = await probeLabSupport(['bridge', 'sysctl', 'iptables-restore', 'nft']);
const support = labSupport.ok ? await probeWireguardSupport() : labSupport;

describeLab("flannel's WireGuard backend across VPCs through knit's address map: encrypted on the wire, guarded at the port", support, () => {
  const lab = new Lab();
  let net: ClusterLab;
  let dir: string;
  let devices: Record<NodeName, WgDevice>;
  let stranger: string;
  const pods = {} as Record<NodeName, MarkerServer>;
  /** Marks the pod traffic of this run: its bytes must never cross the router in clear. */
  const marker = `knit-cleartext-${randomBytes(6).toString('hex')}`;

  const specFile = () => join(dir, 'cluster.yaml');
  const knit = (node: NodeName, action: CrossVpcAction, opts: CrossVpcOptions = {}) =>
    knitCrossvpc(lab, { ns: net.nodes[node], root: join(dir, node), hostname: node }, action, { config: specFile(), nodeName: node, ...opts });

  /** Pod `from` → pod `to` with a marked line; the server's view of the client (its source address). */
  async function podToPod(from: NodeName, to: NodeName, timeoutMs?: number) {
    const line = `${marker} ${from}->${to}`;
    const r = await sendMarker(lab, net.pods[from], NODES[to].podIP, POD_PORT, line, timeoutMs);
    const seen = pods[to].received.find((m) => m.line === line);
    return { ...r, seenFrom: seen?.from };
  }

  /** Counters on w1 before (-320) and after (-300) knit's prerouting chain (-310), for UDP to the WireGuard port. */
  const WATCH = `table ip labwatch {
  chain arrive {
    type filter hook prerouting priority -320; policy accept;
    ip saddr ${INTERNET_HOST.ip} udp dport ${WIREGUARD.port} counter comment "stranger arrives"
    ip saddr != ${INTERNET_HOST.ip} udp dport ${WIREGUARD.port} counter comment "peers arrive"
  }
  chain pass {
    type filter hook prerouting priority -300; policy accept;
    ip saddr ${INTERNET_HOST.ip} udp dport ${WIREGUARD.port} counter comment "stranger passes"
    ip saddr != ${INTERNET_HOST.ip} udp dport ${WIREGUARD.port} counter comment "peers pass"
  }
}
`;
  type Counts = Record<'stranger arrives' | 'peers arrive' | 'stranger passes' | 'peers pass', number>;
  async function counters(): Promise<Counts> {
    const json = JSON.parse(await lab.run(net.nodes.w1, ['nft', '-j', 'list', 'table', 'ip', 'labwatch'])) as {
      nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[];
    };
    return Object.fromEntries(
      json.nftables.flatMap((o) => (o.rule ? [[o.rule.comment!, o.rule.expr.find((e) => e.counter)!.counter!.packets]] : [])),
    ) as Counts;
  }
  const delta = (after: Counts, before: Counts) =>
    Object.fromEntries(Object.keys(after).map((k) => [k, after[k as keyof Counts] - before[k as keyof Counts]])) as Counts;

  /** UDP noise and a datagram shaped like a handshake initiation (type 1, 148 bytes), from the stranger to w1's EIP. */
  async function strangerSends(): Promise<void> {
    const initiation = Buffer.concat([Buffer.from([1, 0, 0, 0]), randomBytes(144)]);
    await sendUdp(lab, stranger, NODES.w1.publicIP, WIREGUARD.port, randomBytes(64));
    await sendUdp(lab, stranger, NODES.w1.publicIP, WIREGUARD.port, initiation);
    await new Promise((r) => setTimeout(r, 100));
  }

  /** The router's capture by kind: `udp 51820` for the tunnel between node addresses, anything else by what it is. */
  function kinds(packets: CapturedPacket[]): Record<string, number> {
    const kind = (p: CapturedPacket): string => {
      if (p.ethertype === 0x0806) return 'arp';
      if (p.ethertype === 0x86dd) return p.protocol === 58 ? 'icmpv6' : `ipv6 next header ${p.protocol}`;
      if (p.ethertype !== 0x0800) return `ethertype 0x${p.ethertype.toString(16)}`;
      const ends = NODE_ADDRESSES.has(p.src!) && NODE_ADDRESSES.has(p.dst!) ? '' : ` ${p.src} > ${p.dst}`;
      if (p.protocol === 17 && p.fragment) return `udp 51820 (fragment)${ends}`;
      if (p.protocol === 17 && p.sport === WIREGUARD.port && p.dport === WIREGUARD.port) return `udp 51820${ends}`;
      return `ip protocol ${p.protocol} ${p.sport ?? ''}>${p.dport ?? ''}${ends || ` ${p.src} > ${p.dst}`}`;
    };
    const counts: Record<string, number> = {};
    for (const p of packets) counts[kind(p)] = (counts[kind(p)] ?? 0) + 1;
    return counts;
  }
  /** Only the tunnel between node addresses, and the links' own ARP and neighbour discovery. */
  const TUNNEL_ONLY = /^(udp 51820( \(fragment\))?|arp|icmpv6)$/;

  /** Unix seconds of the last handshake of `node` with `peer` (0: never). */
  const handshake = async (node: NodeName, peer: NodeName) =>
    Number((await wgShow(lab, devices[node], 'latest-handshakes')).get(devices[peer].publicKey));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knit-crossvpc-wg-lab-'));
    await writeFile(specFile(), clusterSpecYaml({ flannelBackend: 'wireguard' }));
    net = await buildClusterLab(lab, { overlay: 'none', podMtu: WIREGUARD.mtu });
    [devices, stranger] = await Promise.all([
      installFlannelWireguard(lab, net),
      addInternetHost(lab, net),
      ...NODE_NAMES.map((n) => startMarkerServer(lab, net.pods[n], POD_PORT).then((s) => (pods[n] = s))),
      ...(['cp', 'w1'] as const).map((n) => startBulkServer(lab, net.pods[n], '0.0.0.0', BULK_PORT, MB)),
      lab.run(net.nodes.w1, ['nft', '-f', '-'], WATCH),
    ]);
  });

  afterAll(async () => {
    const pids = devices ? Object.values(devices).map((d) => d.pid) : [];
    await lab.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
    // every wireguard-go is gone with the lab
    for (const pid of pids) expect(() => process.kill(pid, 0), `wireguard-go ${pid}`).toThrow();
  });

  describe('as the cloud has it (no knit)', () => {
    it('flannel-wg is what flannel v0.28.9 programs: MTU 1500 - 80, port 51820, per peer its private IP, its pod subnet, no keepalive', async () => {
      const [link] = JSON.parse(await lab.run(net.nodes.cp, ['ip', '-4', '-j', 'addr', 'show', WIREGUARD.device])) as { mtu: number; addr_info: { local: string; prefixlen: number }[] }[];
      expect(link!.mtu).toBe(1420);
      // the pod MTU knit renders for this spec on a 1500 NIC is the one flannel gives its device and pods
      expect(podMtu(specSchema.parse(parse(clusterSpecYaml({ flannelBackend: 'wireguard' }))), 'flannel', 1500)).toBe(WIREGUARD.mtu);
      expect(link!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.244.0.0/32']);
      expect(await lab.run(net.nodes.cp, ['ip', 'route', 'show', 'dev', WIREGUARD.device])).toBe(`${CLUSTER.podCidr} scope link \n`);
      expect((await wg(lab, devices.cp, ['show', WIREGUARD.device, 'listen-port'])).trim()).toBe(String(WIREGUARD.port));
      const peers = NODE_NAMES.filter((n) => n !== 'cp');
      const row = async (field: Parameters<typeof wgShow>[2]) => {
        const m = await wgShow(lab, devices.cp, field);
        return peers.map((p) => m.get(devices[p].publicKey));
      };
      expect(await row('endpoints')).toEqual(peers.map(leaseEndpoint));
      expect(await row('allowed-ips')).toEqual(peers.map((p) => NODES[p].podCidr));
      expect(await row('persistent-keepalive')).toEqual(peers.map(() => 'off'));
    });

    // w3 → w2 rather than a pair used below: a peer whose handshake went unanswered is retried only at
    // WireGuard's next retransmission (every 5 s), which would delay the first connection after knit
    it('the tunnel works inside a VPC (cp ↔ w3); across VPCs the private endpoints are unreachable and no handshake completes', async () => {
      expect(await podToPod('cp', 'w3')).toMatchObject({ ok: true, seenFrom: NODES.cp.podIP });
      expect(await podToPod('w3', 'w2', 1000)).toMatchObject({ ok: false, error: 'timeout' });
      expect(await handshake('cp', 'w3')).toBeGreaterThan(0);
      expect(await handshake('w3', 'w2')).toBe(0);
    });

    it("anyone's datagrams to a node's EIP reach its WireGuard socket (which discards what it cannot authenticate, once it has it)", async () => {
      const before = await counters();
      await strangerSends();
      expect(delta(await counters(), before)).toMatchObject({ 'stranger arrives': 2, 'stranger passes': 2 });
    });
  });

  describe('after knit crossvpc apply on every node (spec: flannel, backend wireguard)', () => {
    beforeAll(async () => {
      for (const n of NODE_NAMES) {
        const r = await knit(n, 'apply', { skip: SKIP });
        expect(r.code, n).toBe(0);
        expect((r.json.steps as { id: string; status: string }[]).map((s) => `${s.id}:${s.status}`), n).toEqual([
          'crossvpc/map:applied',
          'crossvpc/persist:applied',
          'crossvpc/boot:skipped',
        ]);
      }
    });

    it("knit's guard covers WireGuard's port: only cluster nodes may send 51820/udp", async () => {
      const table = await lab.run(net.nodes.w1, ['nft', 'list', 'table', 'ip', 'knit']);
      expect(table).toContain(`fib daddr type local ip saddr != @nodes udp dport ${WIREGUARD.port} drop comment "knit: only cluster nodes may send ${WIREGUARD.port}/udp here"`);
      for (const n of NODE_NAMES) expect(await knit(n, 'status'), n).toMatchObject({ code: 0, json: { inSync: true } });
    });

    let inet: CapturedPacket[];
    let inetBytes: Buffer;
    let tunnel: CapturedPacket[];

    it('pod ↔ pod across VPCs (cp↔w1, cp↔w2, w1↔w2) connects through flannel-wg, pod IPs as sources', async () => {
      const [router, device] = await Promise.all([startCapture(lab, net.inet, 'any', join(dir, 'inet.pcap')), startCapture(lab, net.nodes.cp, WIREGUARD.device, join(dir, 'cp-wg.pcap'))]);
      try {
        for (const [from, to] of PAIRS)
          expect(await podToPod(from, to), `pod ${from} -> pod ${to}`).toMatchObject({ ok: true, reply: `${marker} ${from}->${to} ${NODES[from].podIP}`, seenFrom: NODES[from].podIP });
      } finally {
        const [r, d] = await Promise.all([router.stop(), device.stop()]);
        [inetBytes, inet, tunnel] = [r.pcap, parsePcap(r.pcap), parsePcap(d.pcap)];
        // the files hold every packet tcpdump counted, whole, and the kernel dropped none
        expect([inet.length, r.droppedByKernel, tunnel.length, d.droppedByKernel]).toEqual([r.captured, 0, d.captured, 0]);
        expect([...inet, ...tunnel].filter((p) => p.truncated)).toEqual([]);
      }
      // on cp, inside the tunnel: the pods' own packets, in clear, between pod IPs
      const marked = tunnel.filter((p) => p.bytes.includes(marker));
      const cpPeers = PAIRS.filter(([a, b]) => a === 'cp' || b === 'cp');
      expect(new Set(marked.map((p) => `${p.src} > ${p.dst}`))).toEqual(
        new Set(cpPeers.flatMap(([a, b]) => [`${NODES[a].podIP} > ${NODES[b].podIP}`, `${NODES[b].podIP} > ${NODES[a].podIP}`])),
      );
      // and nothing else of IPv4 (the tun's own IPv6 link-local chatter aside)
      expect(tunnel.filter((p) => p.ethertype === 0x0800 && !(p.protocol === 6 && [p.src, p.dst].every((a) => a!.startsWith('10.244.'))))).toEqual([]);
    });

    it('the router carries only UDP 51820 between node addresses, and not one packet with the cleartext', () => {
      const seen = kinds(inet);
      console.info(`[wireguard lab] router capture during the pod connections: ${inet.length} frames ${JSON.stringify(seen)}`);
      expect(Object.keys(seen).filter((k) => !TUNNEL_ONLY.test(k))).toEqual([]);
      expect(seen['udp 51820']).toBeGreaterThanOrEqual(PAIRS.length * 5); // handshake, SYN, data, FIN, ACKs per connection
      // the map sent the tunnel to the EIPs: each cross-VPC pair's packets leave a node for the peer's public IP
      const ends = new Set(inet.map((p) => `${p.src} > ${p.dst}`));
      for (const [a, b] of ACROSS)
        for (const [x, y] of [[a, b], [b, a]] as const) expect(ends, `${x} -> ${y}`).toContain(`${NODES[x].privateIP} > ${NODES[y].publicIP}`);
      expect(inetBytes.includes(marker)).toBe(false);
      expect(inetBytes.includes(marker.slice(-12))).toBe(false); // not even the random part
    });

    it('1 MB pod → pod crosses the 1400-MTU link both ways (pod MTU 1420; routers fragment the tunnel, as the kernel sends it without DF)', async () => {
      const router = await startCapture(lab, net.inet, 'any', join(dir, 'inet-bulk.pcap'));
      let capture: Awaited<ReturnType<typeof router.stop>>;
      try {
        const both = await Promise.all([fetchBulk(lab, net.pods.cp, NODES.w1.podIP, BULK_PORT), fetchBulk(lab, net.pods.w1, NODES.cp.podIP, BULK_PORT)]);
        expect(both).toEqual([{ ok: true, bytes: MB }, { ok: true, bytes: MB }]);
      } finally {
        capture = await router.stop();
      }
      const packets = parsePcap(capture.pcap);
      expect([packets.length, capture.droppedByKernel, packets.filter((p) => p.truncated).length]).toEqual([capture.captured, 0, 0]);
      const seen = kinds(packets);
      console.info(`[wireguard lab] router capture during 2 x 1 MB: ${packets.length} frames ${JSON.stringify(seen)}`);
      expect(Object.keys(seen).filter((k) => !TUNNEL_ONLY.test(k))).toEqual([]);
      expect(seen['udp 51820 (fragment)']).toBeGreaterThan(0);
      expect(packets.filter((p) => p.ethertype === 0x0800 && p.df)).toEqual([]);
      // the bulk servers send runs of "k": none crosses the router in clear
      expect(capture.pcap.includes('k'.repeat(64))).toBe(false);
    });

    it('every pair has handshaken, and each peer stays at the private endpoint flannel gave it (the map rewrites the source back)', async () => {
      for (const [a, b] of PAIRS) {
        expect(await handshake(a, b), `${a} with ${b}`).toBeGreaterThan(0);
        expect((await wgShow(lab, devices[a], 'endpoints')).get(devices[b].publicKey), `${a}: ${b}`).toBe(leaseEndpoint(b));
      }
    });

    it("a stranger's datagrams to w1's EIP:51820 are dropped by the guard (knit's node set), while the peers' pass", async () => {
      const before = await counters();
      await strangerSends();
      expect(await podToPod('cp', 'w1')).toMatchObject({ ok: true, seenFrom: NODES.cp.podIP });
      const d = delta(await counters(), before);
      expect(d).toMatchObject({ 'stranger arrives': 2, 'stranger passes': 0 });
      expect(d['peers pass']).toBeGreaterThan(0);
      expect(d['peers pass']).toBe(d['peers arrive']);
    });
  });
});
