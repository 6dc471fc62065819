/**
 * `knit crossvpc` on a cluster lab that behaves like the cloud (test/lab/cluster-topology.ts): four
 * nodes in three VPCs behind 1:1 NAT, flannel's VXLAN with VTEPs at private IPs, kube-proxy's Service
 * rules in iptables mode. First the cluster as the cloud has it (what breaks), then knit applied on
 * every node and every path a cluster needs, then what happens to it: kube-proxy restarts, a changed
 * spec, drift, a reboot, removal. The blocks run in order and share the lab.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrossVpcAction, CrossVpcOptions } from '../src/commands/crossvpc.js';
import { CROSSVPC } from '../src/defaults.js';
import { HostFiles } from '../src/host/files.js';
import { specSchema } from '../src/spec/schema.js';
import {
  addInternetHost,
  NODES,
  NODE_NAMES,
  SERVICES,
  VXLAN,
  buildClusterLab,
  clusterSpecYaml,
  flushKubeProxy,
  installFlannelRules,
  installKubeProxy,
  kubeProxyChains,
  type ClusterLab,
  type NodeName,
} from './lab/cluster-topology.js';
import { knitCrossvpc } from './lab/knit-on-node.js';
import { Lab, describeLab, probeLabSupport } from './lab/netns.js';
import { clientAddress, fetchBulk, startBulkServer, startTcpServer, tryConnect, type TcpServer } from './lab/tcp.js';
import { sendUdp, startUdpListener, vxlanFrame, type UdpListener } from './lab/vxlan.js';

const KUBELET_PORT = 10250;
const POD_PORT = 8080;
const BULK_PORT = 9000;
const POD_UDP_PORT = 7000;
const MB = 1 << 20;
const { kubernetes, remoteHostnet } = SERVICES;
/** systemd is not in a namespace: the unit is written, its ExecStart run by hand below. */
const SKIP = ['crossvpc/boot'];

/** What knit 0.1 left on a node: its nat chains, their jumps, and the saved rules file. */
const EARLIER_CHAINS = (peers: NodeName[]) =>
  [
    '*nat',
    ':KNIT-CROSSVPC - [0:0]',
    ':KNIT-CROSSVPC-IN - [0:0]',
    ...peers.map((p) => `-A KNIT-CROSSVPC -d ${NODES[p].privateIP}/32 -j DNAT --to-destination ${NODES[p].publicIP}`),
    ...peers.map((p) => `-A KNIT-CROSSVPC-IN -s ${NODES[p].publicIP}/32 -j SNAT --to-source ${NODES[p].privateIP}`),
    '-A OUTPUT -j KNIT-CROSSVPC',
    '-A PREROUTING -j KNIT-CROSSVPC',
    '-A INPUT -j KNIT-CROSSVPC-IN',
    'COMMIT',
    '',
  ].join('\n');

it('the lab spec is a valid knit spec, and kube-proxy chain names hash as on a real cluster', () => {
  const spec = specSchema.parse(parse(clusterSpecYaml()));
  expect(spec.nodes.map((n) => [n.name, n.role, n.privateIP, n.publicIP, n.vpc])).toEqual(
    NODE_NAMES.map((n) => [n, NODES[n].role, NODES[n].privateIP, NODES[n].publicIP, NODES[n].vpc]),
  );
  expect(kubeProxyChains('kubernetes').svc).toBe('KUBE-SVC-NPX46M4PTMTKRN6Y');
});

// the cluster topology (bridge, sysctl, iptables-restore) and knit's address map (nft)
const support = await probeLabSupport(['bridge', 'sysctl', 'iptables-restore', 'nft']);

describeLab('knit crossvpc on four nodes in three VPCs: flannel VXLAN, kube-proxy Services, 1:1 NAT', support, () => {
  const lab = new Lab();
  let net: ClusterLab;
  let dir: string;
  let apiserver: TcpServer;
  let hostnet: TcpServer;
  const kubelet = {} as Record<'w1' | 'w3', TcpServer>;
  const podServer = {} as Record<NodeName, TcpServer>;
  /** A host on the internet that is no node, and what reaches a pod on w1 over UDP. */
  let stranger: string;
  let podUdp: UdpListener;
  /** A frame "from" cp's pod to w1's pod, as anyone can write it. */
  const forged = (text: string) =>
    vxlanFrame({ vni: Number(VXLAN.vni), dstMac: NODES.w1.vtepMac, src: NODES.cp.podIP, dst: NODES.w1.podIP, dstPort: POD_UDP_PORT, text });
  /** Sends `text` in a forged frame from `ns` to `host`'s VXLAN port; true when the pod on w1 got it. */
  async function forgedFrameArrives(ns: string, host: string, text: string): Promise<boolean> {
    await sendUdp(lab, ns, host, Number(VXLAN.port), forged(text));
    for (const end = Date.now() + 1000; Date.now() < end; await new Promise((r) => setTimeout(r, 20)))
      if (podUdp.received.some((m) => m.text === text)) return true;
    return false;
  }

  const files = (node: NodeName) => new HostFiles(join(dir, node));
  const specFile = () => join(dir, 'cluster.yaml');

  /** Runs the command the CLI runs, on `node`, with -o json; returns its exit code and JSON document. */
  const knit = (node: NodeName, action: CrossVpcAction, opts: CrossVpcOptions & { dryRun?: boolean; config?: string } = {}) =>
    knitCrossvpc(lab, { ns: net.nodes[node], root: join(dir, node), hostname: node }, action, { config: specFile(), nodeName: node, ...opts });
  const statuses = (r: { json: Record<string, unknown> }) => (r.json.steps as { id: string; status: string }[]).map((s) => `${s.id}:${s.status}`);

  /** knit's table with handles: a table re-created, or rules re-added, would differ. */
  const table = (node: NodeName) => lab.run(net.nodes[node], ['nft', '-j', 'list', 'table', 'ip', 'knit']);
  const iptablesSave = async (node: NodeName) =>
    (await lab.run(net.nodes[node], ['iptables-save'])).split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/ \[\d+:\d+\]$/, '')).join('\n');

  /** Connects from `fromNs` and returns the source address `server` saw. */
  async function sourceSeenBy(server: TcpServer, fromNs: string, host: string, port: number): Promise<string | undefined> {
    const n = server.clients.length + 1;
    expect(await tryConnect(lab, fromNs, host, port), `${fromNs} -> ${host}:${port}`).toEqual({ ok: true, reply: 'knit' });
    return clientAddress(server, n);
  }
  const timesOut = (fromNs: string, host: string, port: number) =>
    expect(tryConnect(lab, fromNs, host, port, { timeoutMs: 1000 })).resolves.toEqual({ ok: false, error: 'timeout' });
  /** Drops the path MTUs cp and w1 learnt from "fragmentation needed" errors (a learnt MTU also lowers the MSS they announce). */
  const forgetPathMtu = () => Promise.all([net.nodes.cp, net.nodes.w1].map((ns) => lab.run(ns, ['ip', 'route', 'flush', 'cache'])));
  const bulkBothWays = async (a: string, aIP: string, b: string, bIP: string) => {
    await forgetPathMtu();
    const [toB, toA] = await Promise.all([fetchBulk(lab, b, aIP, BULK_PORT), fetchBulk(lab, a, bIP, BULK_PORT)]);
    return { toB, toA };
  };
  const BOTH_ARRIVE = { toB: { ok: true, bytes: MB }, toA: { ok: true, bytes: MB } };

  /** Every path a cluster across VPCs needs, each asserting who the server saw. */
  async function everyClusterPath(): Promise<void> {
    // the kubernetes Service, DNATed by kube-proxy to cp's private IP: what flannel's own pod dials
    expect(await sourceSeenBy(apiserver, net.pods.w1, kubernetes.clusterIP, kubernetes.port)).toBe(NODES.w1.privateIP);
    expect(await sourceSeenBy(apiserver, net.nodes.w1, kubernetes.clusterIP, kubernetes.port)).toBe(NODES.w1.privateIP);
    expect(await sourceSeenBy(apiserver, net.pods.w2, kubernetes.clusterIP, kubernetes.port)).toBe(NODES.w2.privateIP);
    // pods across VPCs over VXLAN, pod IPs kept
    for (const [from, to] of [['cp', 'w1'], ['w1', 'cp'], ['cp', 'w2'], ['w1', 'w2'], ['w3', 'w2'], ['cp', 'w3']] as const)
      expect(await sourceSeenBy(podServer[to], net.pods[from], NODES[to].podIP, POD_PORT), `pod ${from} -> pod ${to}`).toBe(NODES[from].podIP);
    // apiserver → kubelet (logs, exec) and metrics-server: a pod on cp to w1's kubelet at its private IP
    expect(await sourceSeenBy(kubelet.w1, net.pods.cp, NODES.w1.privateIP, KUBELET_PORT)).toBe(NODES.cp.privateIP);
    // host to a peer's private IP: the peer sees the private source (etcd, kubelet serving certs)
    expect(await sourceSeenBy(hostnet, net.nodes.cp, NODES.w2.privateIP, remoteHostnet.endpoint.port)).toBe(NODES.cp.privateIP);
    // a Service whose endpoint is a hostNetwork pod on a node in a third VPC
    expect(await sourceSeenBy(hostnet, net.pods.w1, remoteHostnet.clusterIP, remoteHostnet.port)).toBe(NODES.w1.privateIP);
    // the control plane's public endpoint, as kubelets and kubeadm dial it (replies from a mapped peer's
    // public IP must still reach the socket that dialled it): host and pod, the apiserver sees private IPs
    expect(await sourceSeenBy(apiserver, net.nodes.w1, NODES.cp.publicIP, kubernetes.endpoint.port)).toBe(NODES.w1.privateIP);
    expect(await sourceSeenBy(apiserver, net.pods.w2, NODES.cp.publicIP, kubernetes.endpoint.port)).toBe(NODES.w2.privateIP);
    // the same VPC stays private and direct
    expect(await sourceSeenBy(kubelet.w3, net.nodes.cp, NODES.w3.privateIP, KUBELET_PORT)).toBe(NODES.cp.privateIP);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knit-crossvpc-lab-'));
    await writeFile(specFile(), clusterSpecYaml());
    net = await buildClusterLab(lab);
    const { nodes, pods } = net;
    const serve = (ns: string, port: number) => startTcpServer(lab, ns, '0.0.0.0', port);
    await Promise.all([
      serve(nodes.cp, kubernetes.endpoint.port).then((s) => (apiserver = s)),
      serve(nodes.w2, remoteHostnet.endpoint.port).then((s) => (hostnet = s)),
      serve(nodes.w1, KUBELET_PORT).then((s) => (kubelet.w1 = s)),
      serve(nodes.w3, KUBELET_PORT).then((s) => (kubelet.w3 = s)),
      ...NODE_NAMES.map((n) => serve(pods[n], POD_PORT).then((s) => (podServer[n] = s))),
      ...[nodes.cp, nodes.w1].map((ns) => startBulkServer(lab, ns, '0.0.0.0', BULK_PORT, MB)),
      startUdpListener(lab, pods.w1, '0.0.0.0', POD_UDP_PORT).then((l) => (podUdp = l)),
      addInternetHost(lab, net).then((ns) => (stranger = ns)),
    ]);
  });

  afterAll(async () => {
    await lab.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('as the cloud has it (no knit)', () => {
    it('cp reaches w1 only at its public IP, and is seen as its public IP', async () => {
      expect(await sourceSeenBy(kubelet.w1, net.nodes.cp, NODES.w1.publicIP, KUBELET_PORT)).toBe(NODES.cp.publicIP);
      await timesOut(net.nodes.cp, NODES.w1.privateIP, KUBELET_PORT);
    });

    it("a pod on w2 cannot reach the kubernetes Service: kube-proxy DNATs it to cp's private IP", async () => {
      await timesOut(net.pods.w2, kubernetes.clusterIP, kubernetes.port);
    });

    it('VXLAN to VTEPs at private IPs carries pod traffic inside a VPC only', async () => {
      expect(await sourceSeenBy(podServer.w3, net.pods.cp, NODES.w3.podIP, POD_PORT)).toBe(NODES.cp.podIP);
      await timesOut(net.pods.cp, NODES.w2.podIP, POD_PORT);
    });

    it("VXLAN has no authentication: a stranger's hand-made frame to w1's EIP reaches w1's pod, as if from cp's pod", async () => {
      expect(await forgedFrameArrives(stranger, NODES.w1.publicIP, 'stranger before knit')).toBe(true);
      expect(podUdp.received.find((m) => m.text === 'stranger before knit')?.from).toBe(NODES.cp.podIP);
    });

    it('at public IPs, 1 MB crosses the 1400-MTU link both ways (the routers send "fragmentation needed")', async () => {
      // ICMP destination-unreachable the two routers generated (sent, or held back by ICMP rate limiting):
      // the 1400-MTU link answers the 1500-byte segments with "fragmentation needed"
      const unreachables = async () => {
        let sum = 0;
        for (const ns of [net.inet, net.vpcbGateway]) {
          const [names, values] = (await lab.run(ns, ['cat', '/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Icmp: ')).map((l) => l.split(/\s+/));
          for (const field of ['OutDestUnreachs', 'OutRateLimitHost', 'OutRateLimitGlobal']) sum += Number(values?.[names!.indexOf(field)] ?? 0);
        }
        return sum;
      };
      const before = await unreachables();
      expect(await bulkBothWays(net.nodes.cp, NODES.cp.publicIP, net.nodes.w1, NODES.w1.publicIP)).toEqual(BOTH_ARRIVE);
      expect(await unreachables()).toBeGreaterThan(before);
    });

    it('--dry-run and status change nothing; status says the map is missing (exit 1)', async () => {
      const before = await lab.run(net.nodes.cp, ['nft', 'list', 'ruleset']);
      const dry = await knit('cp', 'apply', { dryRun: true });
      expect(dry.code).toBe(0);
      expect((dry.json.steps as { id: string }[]).map((s) => s.id)).toEqual(['crossvpc/map', 'crossvpc/persist', 'crossvpc/boot']);
      expect(await knit('cp', 'status')).toMatchObject({ code: 1, json: { inSync: false, table: 'missing', rulesFile: 'missing' } });
      expect(await lab.run(net.nodes.cp, ['nft', 'list', 'ruleset'])).toBe(before);
    });
  });

  describe('after knit crossvpc apply on every node (kube-proxy restarted afterwards, its jumps on top)', () => {
    const applied = {} as Record<NodeName, string>;

    beforeAll(async () => {
      // w1 was set up by an earlier knit: its iptables DNAT/SNAT chains and their saved file
      await lab.run(net.nodes.w1, ['iptables-restore', '--noflush'], EARLIER_CHAINS(['cp', 'w2', 'w3']));
      await files('w1').write(CROSSVPC.legacy.rulesFile, EARLIER_CHAINS(['cp', 'w2', 'w3']));
      for (const n of NODE_NAMES) {
        const r = await knit(n, 'apply', { skip: SKIP });
        expect(r.code).toBe(0);
        expect(statuses(r)).toEqual(
          n === 'w1'
            ? ['crossvpc/map:applied', 'crossvpc/legacy:applied', 'crossvpc/persist:applied', 'crossvpc/boot:skipped']
            : ['crossvpc/map:applied', 'crossvpc/persist:applied', 'crossvpc/boot:skipped'],
        );
        applied[n] = await table(n);
      }
      for (const ns of Object.values(net.nodes)) {
        await flushKubeProxy(lab, ns);
        await installKubeProxy(lab, ns);
      }
    });

    it('each node maps exactly its peers outside its VPC (cp: not w3) and status is in sync', async () => {
      expect(await lab.run(net.nodes.cp, ['nft', 'list', 'map', 'ip', 'knit', 'peer_public'])).toMatch(
        /elements = \{ (172\.16\.2\.20 : 203\.0\.113\.20, 172\.16\.3\.30 : 203\.0\.113\.30|172\.16\.3\.30 : 203\.0\.113\.30, 172\.16\.2\.20 : 203\.0\.113\.20) \}/,
      );
      for (const n of NODE_NAMES) expect(await knit(n, 'status'), n).toMatchObject({ code: 0, json: { inSync: true, table: 'current', rulesFile: 'current' } });
    });

    it("w1's earlier iptables chains, jumps and file are gone", async () => {
      expect(await iptablesSave('w1')).not.toContain('KNIT-CROSSVPC');
      expect(await files('w1').exists(CROSSVPC.legacy.rulesFile)).toBe(false);
    });

    it('every cluster path connects, with the sources Kubernetes expects', everyClusterPath);

    it("the overlay answers only cluster nodes: a stranger's frame is dropped, the same frame from cp (another VPC) and w3 arrives", async () => {
      expect(await forgedFrameArrives(stranger, NODES.w1.publicIP, 'stranger after knit')).toBe(false);
      expect(await forgedFrameArrives(net.nodes.cp, NODES.w1.privateIP, 'cp after knit')).toBe(true);
      expect(await forgedFrameArrives(net.nodes.w3, NODES.w1.privateIP, 'w3 after knit')).toBe(true);
      // the stranger still reaches what is not the overlay (the kubelet at the EIP: security groups decide that)
      expect(await tryConnect(lab, stranger, NODES.w1.publicIP, KUBELET_PORT)).toEqual({ ok: true, reply: 'knit' });
    });

    it('1 MB crosses the 1400-MTU link both ways, host to private IP and pod to pod (MSS clamped to 1360)', async () => {
      expect(await bulkBothWays(net.nodes.cp, NODES.cp.privateIP, net.nodes.w1, NODES.w1.privateIP)).toEqual(BOTH_ARRIVE);
    });

    it('without the MSS clamp, 1 MB stalls; status and apply see the drift, and apply repairs it', async () => {
      for (const n of ['cp', 'w1'] as const) {
        const rules = (JSON.parse(await table(n)) as { nftables: { rule?: { chain: string; handle: number; comment?: string } }[] }).nftables.flatMap((o) => (o.rule ? [o.rule] : []));
        for (const r of rules.filter((x) => x.comment?.includes('MSS')))
          await lab.run(net.nodes[n], ['nft', 'delete', 'rule', 'ip', 'knit', r.chain, 'handle', String(r.handle)]);
      }
      await forgetPathMtu();
      const stalled = await Promise.all([fetchBulk(lab, net.nodes.w1, NODES.cp.privateIP, BULK_PORT, { timeoutMs: 2000 }), fetchBulk(lab, net.nodes.cp, NODES.w1.privateIP, BULK_PORT, { timeoutMs: 2000 })]);
      expect(stalled).toMatchObject([{ ok: false, error: 'timeout' }, { ok: false, error: 'timeout' }]);
      expect(await knit('cp', 'status')).toMatchObject({ code: 1, json: { table: 'outdated', missing: [], unexpected: [] } });
      for (const n of ['cp', 'w1'] as const) expect(statuses(await knit(n, 'apply', { skip: SKIP }))).toContain('crossvpc/map:applied');
      expect(await bulkBothWays(net.nodes.cp, NODES.cp.privateIP, net.nodes.w1, NODES.w1.privateIP)).toEqual(BOTH_ARRIVE);
      for (const n of ['cp', 'w1'] as const) applied[n] = await table(n);
    });

    it('a re-apply changes nothing: every step unchanged, the table identical (handles included)', async () => {
      for (const n of NODE_NAMES) {
        expect(statuses(await knit(n, 'apply', { skip: SKIP })), n).toEqual(['crossvpc/map:unchanged', 'crossvpc/persist:unchanged', 'crossvpc/boot:skipped']);
        expect(await table(n)).toBe(applied[n]);
      }
    });

    it('a node added to the spec changes only map elements (rules keep their handles), and removing it restores the table', async () => {
      const bigger = join(dir, 'bigger.yaml');
      await writeFile(bigger, `${clusterSpecYaml()}  - { name: w5, privateIP: 172.16.5.50, publicIP: 198.51.100.50, vpc: vpc-e }\n`);
      const r = await knit('cp', 'apply', { skip: SKIP, config: bigger });
      expect(statuses(r)).toEqual(['crossvpc/map:applied', 'crossvpc/persist:applied', 'crossvpc/boot:skipped']);
      const rulesOf = (t: string) => (JSON.parse(t) as { nftables: { rule?: unknown; chain?: unknown }[] }).nftables.filter((o) => o.rule ?? o.chain);
      const grown = await table('cp');
      expect(rulesOf(grown)).toEqual(rulesOf(applied.cp));
      expect(grown).toContain('"172.16.5.50", "198.51.100.50"');
      expect(statuses(await knit('cp', 'apply', { skip: SKIP }))).toEqual(['crossvpc/map:applied', 'crossvpc/persist:applied', 'crossvpc/boot:skipped']);
      expect(await table('cp')).toBe(applied.cp);
    });

    it('kube-proxy flushed and restarted again (jumps prepended): every path still connects', async () => {
      for (const ns of Object.values(net.nodes)) {
        await flushKubeProxy(lab, ns);
        await installKubeProxy(lab, ns);
      }
      await everyClusterPath();
    });

    it('a reboot (ruleset flushed; the boot unit, then flannel and kube-proxy start) restores every path', async () => {
      for (const n of NODE_NAMES) {
        const unit = (await files(n).read(CROSSVPC.unitPath))!;
        const start = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ').map((a) => (a === CROSSVPC.rulesFile ? files(n).path(a) : a));
        const ns = net.nodes[n];
        await lab.run(ns, ['nft', 'flush', 'ruleset']);
        await lab.run(ns, start);
        await lab.run(ns, start); // a restart of the unit loads it again: one table, not two
        await installFlannelRules(lab, ns, n);
        await installKubeProxy(lab, ns);
        expect(await knit(n, 'status'), n).toMatchObject({ code: 0, json: { inSync: true } });
      }
      await everyClusterPath();
    });

    it('remove leaves no trace (the same flags as apply); a second remove changes nothing; same-VPC traffic still flows', async () => {
      for (const n of NODE_NAMES) {
        const before = await iptablesSave(n);
        const removed = await knit(n, 'remove', { skip: SKIP });
        expect(statuses(removed), n).toEqual(['crossvpc/map:applied', 'crossvpc/boot:skipped', 'crossvpc/persist:applied']);
        expect(await lab.run(net.nodes[n], ['nft', 'list', 'tables'])).not.toContain('table ip knit');
        expect(await iptablesSave(n)).toBe(before);
        for (const p of [CROSSVPC.rulesFile, CROSSVPC.unitPath]) expect(await files(n).exists(p)).toBe(false);
        expect(statuses(await knit(n, 'remove', { skip: SKIP }))).toEqual(['crossvpc/map:unchanged', 'crossvpc/boot:skipped', 'crossvpc/persist:unchanged']);
        expect((await knit(n, 'status')).code).toBe(1);
      }
      await timesOut(net.pods.w2, kubernetes.clusterIP, kubernetes.port);
      expect(await sourceSeenBy(kubelet.w3, net.nodes.cp, NODES.w3.privateIP, KUBELET_PORT)).toBe(NODES.cp.privateIP);
    });
  });
});
