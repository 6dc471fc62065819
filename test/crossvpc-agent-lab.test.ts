/**
 * `knit crossvpc agent` on the cluster lab: an agent in each node's namespace watches a stand-in API
 * server (the real list/watch wire format, test/fakes/apiserver.mjs) that runs on the control plane and
 * is reached the way kubelets reach it (workers in other VPCs through its EIP). A node that appears in
 * a new VPC is mapped on every node without a command run on them; a deleted one leaves every map; an
 * unreachable API server leaves the maps as they were; a reboot restores the cluster's map from the
 * file the agent saved, before the API server answers.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CROSSVPC, PATHS } from '../src/defaults.js';
import { HostFiles } from '../src/host/files.js';
import { kubeconfigYaml, startFakeApiServer, type FakeApiServer } from './helpers/fake-apiserver.js';
import { KNIT_BIN } from './helpers/knit.js';
import { NODES, NODE_NAMES, buildClusterLab, clusterSpecYaml, type ClusterLab, type NodeName } from './lab/cluster-topology.js';
import { knitCrossvpc } from './lab/knit-on-node.js';
import { Lab, describeLab, probeLabSupport } from './lab/netns.js';
import { addNodeInNewVpc, type NewNode } from './lab/new-vpc-node.js';
import { clientAddress, startTcpServer, tryConnect, type TcpServer } from './lab/tcp.js';

const API_PORT = 6443;
const KUBELET_PORT = 10250;
const W5: NewNode & { vpc: string } = { name: 'w5', privateIP: '172.16.5.50', gateway: '172.16.5.1', publicIP: '203.0.113.50', vpc: 'vpc-e' };
type Host = NodeName | 'w5';

// the cluster topology (bridge, sysctl, iptables-restore) and knit's address map (nft)
const support = await probeLabSupport(['bridge', 'sysctl', 'iptables-restore', 'nft']);

describeLab('knit crossvpc agent: the map follows the cluster (stand-in API server, four nodes in three VPCs)', support, () => {
  const lab = new Lab();
  let net: ClusterLab;
  let dir: string;
  let api: FakeApiServer;
  let kubelet: TcpServer;
  const ns = {} as Record<Host, string>;
  const logs = {} as Record<Host, string[]>;
  const agents = {} as Record<Host, ReturnType<Lab['spawn']>>;
  const root = (h: Host) => join(dir, h);

  /** The API objects: each node's VPC label and public IP annotation, as init/join publish them. */
  const published = (name: string, privateIP: string, vpc: string, publicIP: string) =>
    ({ name, internalIP: privateIP, labels: { [CROSSVPC.vpcLabel]: vpc }, annotations: { [CROSSVPC.publicIpAnnotation]: publicIP } });

  /** `knit crossvpc apply` as init/join run it: the spec seeds the map and the agent's settings are written. */
  async function apply(h: Host, spec: string): Promise<void> {
    expect((await knitCrossvpc(lab, { ns: ns[h], root: root(h), hostname: h }, 'apply', { config: spec, nodeName: h, skip: ['crossvpc/boot'] })).code).toBe(0);
  }

  /** Starts the agent as systemd would, in `h`'s namespace, with the kubelet's kubeconfig pointing at `server`. */
  async function startAgent(h: Host, server: string, { kubeadmLater = false } = {}): Promise<void> {
    await mkdir(join(root(h), 'etc/kubernetes'), { recursive: true });
    const kubeletConf = () => writeFile(join(root(h), PATHS.kubeletConf), kubeconfigYaml(server));
    if (!kubeadmLater) await kubeletConf();
    const child = lab.spawn(ns[h], ['env', `KNIT_HOST_ROOT=${root(h)}`, `HOME=${dir}`, 'KNIT_AGENT_WATCH_SILENT_S=20', 'node', KNIT_BIN, 'crossvpc', 'agent']);
    logs[h] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => logs[h].push(l));
    createInterface({ input: child.stderr! }).on('line', (l) => logs[h].push(`stderr: ${l}`));
    agents[h] = child;
    if (!kubeadmLater) return;
    // as on a joining node: the agent starts with the map, before kubeadm has written the kubelet's kubeconfig
    await eventually(`${h}'s agent waits for the kubeconfig`, async () => logs[h].some((l) => l.includes('waiting for')));
    await kubeletConf();
  }

  const peerMap = (h: Host) => lab.run(ns[h], ['nft', 'list', 'map', 'ip', 'knit', 'peer_public']);
  async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 8000): Promise<void> {
    for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await check()) return;
    throw new Error(`${what}: not within ${timeoutMs} ms\n${Object.entries(logs).map(([h, l]) => `${h}: ${l.join('\n    ')}`).join('\n')}`);
  }
  const mapped = (h: Host, ip: string) => peerMap(h).then((t) => t.includes(`${ip} : `));
  const seenBy = async (server: TcpServer, fromNs: string, host: string, port: number) => {
    const n = server.clients.length + 1;
    const r = await tryConnect(lab, fromNs, host, port);
    return r.ok ? clientAddress(server, n) : r.error;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'knit-agent-lab-'));
    net = await buildClusterLab(lab);
    Object.assign(ns, net.nodes);
    const spec = join(dir, 'cluster.yaml');
    await writeFile(spec, clusterSpecYaml());
    api = await startFakeApiServer({ lab, ns: net.nodes.cp, listen: `0.0.0.0:${API_PORT}`, dir, bookmarkMs: 2000,
      nodes: NODE_NAMES.map((n) => published(n, NODES[n].privateIP, NODES[n].vpc, NODES[n].publicIP)) });
    kubelet = await startTcpServer(lab, net.nodes.cp, '0.0.0.0', KUBELET_PORT);
    for (const h of NODE_NAMES) await apply(h, spec);
    // kubelets reach the API server at the control plane's endpoint: its EIP from other VPCs, privately within its own
    for (const h of NODE_NAMES)
      await startAgent(h, `http://${h === 'cp' ? '127.0.0.1' : NODES[h].vpc === NODES.cp.vpc ? NODES.cp.privateIP : NODES.cp.publicIP}:${API_PORT}`);
    await eventually('every agent synced', async () => NODE_NAMES.every((h) => logs[h].some((l) => l.includes('synced from the cluster'))), 20_000);
  }, 60_000);

  afterAll(async () => {
    await api?.close();
    await lab.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('each agent found the map the spec seeded already in place and changed nothing', async () => {
    for (const h of NODE_NAMES) expect(logs[h].find((l) => l.includes('synced from the cluster')), h).toContain('(the table already held them)');
  });

  it('a node that appears in a new VPC is mapped on every node, with no command run on them; then it is seen at its private IP', async () => {
    ns.w5 = await addNodeInNewVpc(lab, net, W5);
    // the new node itself runs what `knit join` runs: its spec seeds its map, its agent starts
    const spec = join(dir, 'with-w5.yaml');
    await writeFile(spec, `${clusterSpecYaml()}  - { name: w5, privateIP: ${W5.privateIP}, publicIP: ${W5.publicIP}, vpc: ${W5.vpc} }\n`);
    await apply('w5', spec);
    await startAgent('w5', `http://${NODES.cp.publicIP}:${API_PORT}`, { kubeadmLater: true });
    // cp does not know w5 yet: it sees w5's public address, not the node address Kubernetes knows it by
    expect(await seenBy(kubelet, ns.w5, NODES.cp.privateIP, KUBELET_PORT)).toBe(W5.publicIP);

    await api.admin.addNode(published('w5', W5.privateIP, W5.vpc, W5.publicIP));
    for (const h of NODE_NAMES) await eventually(`${h} maps w5`, () => mapped(h, W5.privateIP));
    expect(await seenBy(kubelet, ns.w5, NODES.cp.privateIP, KUBELET_PORT)).toBe(W5.privateIP);
    for (const h of NODE_NAMES) expect(logs[h].filter((l) => l.includes('added peer w5')), h).toHaveLength(1);
    // and w5's own agent, which waited for its kubeconfig, took over from its spec (every other node is outside vpc-e)
    await eventually("w5's agent synced", async () => logs.w5.some((l) => l.includes('synced from the cluster: 4 peer(s)')));
  });

  it('a kubelet status update (no field the map reads) logs nothing; a changed public IP is updated in place', async () => {
    const before = logs.cp.length;
    await api.admin.heartbeat();
    await new Promise((r) => setTimeout(r, 500));
    expect(logs.cp.slice(before)).toEqual([]);
    await api.admin.addNode(published('w5', W5.privateIP, W5.vpc, '203.0.113.51'));
    await eventually('cp maps w5 to its new public IP', () => peerMap('cp').then((t) => t.includes(`${W5.privateIP} : 203.0.113.51`)));
    await api.admin.addNode(published('w5', W5.privateIP, W5.vpc, W5.publicIP));
    await eventually('cp maps w5 back', () => peerMap('cp').then((t) => t.includes(`${W5.privateIP} : ${W5.publicIP}`)));
  });

  it('a node deleted from the cluster leaves every map', async () => {
    await api.admin.deleteNode('w5');
    for (const h of NODE_NAMES) await eventually(`${h} forgets w5`, async () => !(await mapped(h, W5.privateIP)));
    expect(logs.w1.filter((l) => l.includes('removed peer w5'))).toHaveLength(1);
  });

  it('API server unreachable: the maps keep their last state, the agents retry, and catch up when it is back', async () => {
    const tables = await Promise.all(NODE_NAMES.map((h) => peerMap(h)));
    await api.admin.down();
    await eventually('the agents noticed', async () => NODE_NAMES.every((h) => logs[h].some((l) => l.includes('did not answer'))));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await Promise.all(NODE_NAMES.map((h) => peerMap(h)))).toEqual(tables);
    await api.admin.up();
    await api.admin.addNode(published('w6', '172.16.6.60', 'vpc-f', '203.0.113.60'));
    for (const h of NODE_NAMES) await eventually(`${h} maps w6 after the outage`, () => mapped(h, '172.16.6.60'), 40_000);
  }, 60_000);

  it("a reboot restores the cluster's map from the file the agent saved, before the API server answers", async () => {
    await api.admin.down();
    agents.w1.kill('SIGTERM');
    await lab.run(ns.w1, ['nft', 'flush', 'ruleset']);
    const unit = (await new HostFiles(root('w1')).read(CROSSVPC.unitPath))!;
    const start = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ').map((a) => (a === CROSSVPC.rulesFile ? join(root('w1'), a) : a));
    await lab.run(ns.w1, start);
    // w6 was never in any spec: only the agent knew it
    expect(await peerMap('w1')).toContain('172.16.6.60 : 203.0.113.60');
    await api.admin.up();
  });

  it('status shows the cluster as the source, with the last sync and the nodes watched', async () => {
    const { code, json } = await knitCrossvpc(lab, { ns: ns.cp, root: root('cp'), hostname: 'cp' }, 'status', { config: join(dir, 'cluster.yaml'), nodeName: 'cp' });
    const { source, inSync, agent } = json as { source: string; inSync: boolean; agent: { watched: number } };
    expect({ code, source, inSync, watched: agent.watched }).toEqual({ code: 0, source: 'cluster', inSync: true, watched: 5 });
  });
});
