/**
 * flannel's WireGuard backend on a cluster lab (cluster-topology.ts built with `overlay: 'none'`), as
 * flanneld v0.28.9 programs it (flannel-io/flannel pkg/backend/wireguard: wireguard.go, device.go,
 * wireguard_network.go), with the device in user space: this kernel has no WireGuard, and Debian's
 * wireguard-go makes the same device (a tun named flannel-wg, configured through the same UAPI that
 * `wg` and flannel's wgctrl speak).
 *
 * What flanneld does, in order, and what stands for it here:
 * - createWGDev: a link `flannel-wg` of MTU = the external interface's MTU - 80 (`overhead`), a key pair
 *   (/run/flannel/wgkey), the private key and ListenPort 51820 set with ReplacePeers →
 *   wireguard-go, `ip link set mtu`, `wg genkey`, `wg setconf` (which replaces peers).
 * - the lease publishes PublicIP = the node's address as flannel sees it: the private IP, since knit no
 *   longer sets public-ip-overwrite; BackendData = { PublicKey, Port }.
 * - Configure: the lease's subnet address /32 on the device, link up, a scope-link route for the whole
 *   cluster network via the device (RouteReplace) → `ip addr add`, `ip link set up`, `ip route replace`.
 * - per peer lease (Separate mode, the default): endpoint = the peer's PublicIP:Port, AllowedIPs = the
 *   peer's pod subnet (ReplaceAllowedIPs), PersistentKeepaliveInterval = the backend's setting, 0 (off)
 *   by default, then the cluster route again → `wg set … peer`, `ip route replace`.
 *
 * wireguard-go and `wg` find each other through a UAPI socket in /run/wireguard/<device>.sock, which is
 * not per network namespace: every node's daemon runs in a mount namespace of its own (the one `ip
 * netns exec` makes) with a tmpfs on /run/wireguard, and `wg` enters it with nsenter. The daemon runs
 * in the foreground as the test's child (Lab.destroy kills it), with a parent-death signal so that it
 * dies with the test process even if that is killed.
 *
 * One difference from the kernel's device is made up for: the kernel sends WireGuard's UDP with DF
 * clear, wireguard-go's socket would set it (see installFlannelWireguard).
 */
import { readFile } from 'node:fs/promises';
import { createExec } from '../../src/host/exec.js';
import { CLUSTER, NODES, NODE_NAMES, type ClusterLab, type NodeName } from './cluster-topology.js';
import type { Lab, LabSupport } from './netns.js';
import { tryConnect, type ConnectResult } from './tcp.js';

export const WIREGUARD = {
  device: 'flannel-wg',
  /** flannel's ListenPort default. */
  port: 51820,
  /** wireguard_network.go `overhead`: IPv4/IPv6 header, UDP, type, key index, nonce, tag (v0.28: 80). */
  overhead: 80,
  /** The lab NICs' 1500 minus the overhead: the device's MTU and the pods' (flannel's FLANNEL_MTU). */
  mtu: 1500 - 80,
  /** PersistentKeepaliveInterval's default: 0, keepalives off. */
  keepalive: 0,
} as const;

/** What the test needs of a running flannel-wg on a node. */
export interface WgDevice {
  node: NodeName;
  /** wireguard-go's process id (its mount namespace holds the UAPI socket). */
  pid: number;
  publicKey: string;
}

/** Whether this machine has the user-space WireGuard tools, and a tun device to make one with. */
export async function probeWireguardSupport(): Promise<LabSupport> {
  const host = createExec();
  const ok = (argv: [string, ...string[]]) => host(argv).then((r) => r.exitCode === 0, () => false);
  for (const tool of ['wireguard-go', 'wg', 'tcpdump', 'setpriv', 'nsenter'])
    if (!(await ok(['sh', '-c', `command -v ${tool}`])))
      return { ok: false, reason: `${tool} is not installed (apt-get install wireguard-go wireguard-tools tcpdump)` };
  if (!(await ok(['test', '-c', '/dev/net/tun']))) return { ok: false, reason: 'no /dev/net/tun (wireguard-go makes its device there)' };
  return { ok: true };
}

/**
 * Runs `wg` against a node's device (inside wireguard-go's mount and network namespaces). With `stdin`,
 * wg reads it through a pipe, so that `/dev/stdin` opens (the test runner hands children a socket).
 */
export const wg = (lab: Lab, dev: WgDevice, args: string[], stdin?: string): Promise<string> =>
  lab.host(['nsenter', '-t', String(dev.pid), '-m', '-n', ...(stdin === undefined ? ['wg'] : ['sh', '-c', 'cat | wg "$@"', 'wg']), ...args], stdin);

const until = async (what: string, test: () => Promise<boolean>, timeoutMs = 5000): Promise<void> => {
  for (const end = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 20))) {
    if (await test()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
};

/** Starts wireguard-go for flannel-wg in `ns` and waits until `wg` can talk to it. */
async function startDevice(lab: Lab, ns: string, node: NodeName): Promise<{ pid: number }> {
  const script = `mkdir -p /run/wireguard && mount -t tmpfs -o mode=0700 tmpfs /run/wireguard && exec setpriv --pdeathsig KILL wireguard-go -f ${WIREGUARD.device}`;
  const child = lab.spawn(ns, ['sh', '-c', script]);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  const pid = child.pid!;
  await until(`wireguard-go on ${node}`, async () => {
    if (exited) throw new Error(`wireguard-go on ${node} exited: ${output}`);
    return lab.host(['nsenter', '-t', String(pid), '-m', '-n', 'wg', 'show', WIREGUARD.device, 'listen-port']).then(() => true, () => false);
  });
  return { pid };
}

/** A key pair as flannel's setupKeys makes it (wgtypes.GeneratePrivateKey, Curve25519). */
async function keyPair(lab: Lab): Promise<{ privateKey: string; publicKey: string }> {
  const privateKey = (await lab.host(['wg', 'genkey'])).trim();
  const publicKey = (await lab.host(['wg', 'pubkey'], `${privateKey}\n`)).trim();
  return { privateKey, publicKey };
}

/** The address flannel publishes in a node's lease: its private IP (no public-ip-overwrite). */
export const leaseEndpoint = (node: NodeName): string => `${NODES[node].privateIP}:${WIREGUARD.port}`;

/** The device's address: the first address of the node's lease (10.244.1.0 for 10.244.1.0/24). */
const leaseAddress = (node: NodeName): string => NODES[node].podCidr.split('/')[0]!;

/**
 * flannel's WireGuard backend on every node of the lab: the device and its keys (RegisterNetwork), its
 * address and the cluster route (Configure), then every other node as a peer (handleSubnetEvents).
 */
export async function installFlannelWireguard(lab: Lab, net: ClusterLab): Promise<Record<NodeName, WgDevice>> {
  const devices = {} as Record<NodeName, WgDevice>;
  await Promise.all(
    NODE_NAMES.map(async (node) => {
      const ns = net.nodes[node];
      // kernel WireGuard sends with DF clear (socket.c: df 0, ignore_df), so that routers fragment what a
      // narrower path cannot carry; wireguard-go's socket would set DF, and its path MTU is learnt for
      // the public address knit's map sends to, never for the private one it sends from: clear DF as
      // the kernel does (sockets made in this namespace from now on)
      await lab.run(ns, ['sysctl', '-qw', 'net.ipv4.ip_no_pmtu_disc=1']);
      const [{ pid }, keys] = await Promise.all([startDevice(lab, ns, node), keyPair(lab)]);
      const dev: WgDevice = { node, pid, publicKey: keys.publicKey };
      await lab.run(ns, ['ip', 'link', 'set', WIREGUARD.device, 'mtu', String(WIREGUARD.mtu)]);
      // ConfigureDevice{PrivateKey, ListenPort, ReplacePeers: true}: setconf replaces the whole configuration
      await wg(lab, dev, ['setconf', WIREGUARD.device, '/dev/stdin'], `[Interface]\nPrivateKey = ${keys.privateKey}\nListenPort = ${WIREGUARD.port}\n`);
      await lab.run(ns, ['ip', '-batch', '-'], [
        `addr add ${leaseAddress(node)}/32 dev ${WIREGUARD.device}`,
        `link set ${WIREGUARD.device} up`,
        `route replace ${CLUSTER.podCidr} dev ${WIREGUARD.device} scope link`,
        '',
      ].join('\n'));
      devices[node] = dev;
    }),
  );
  // the lease watch: each other node's lease becomes a peer
  await Promise.all(
    NODE_NAMES.map(async (node) => {
      for (const peer of NODE_NAMES.filter((p) => p !== node))
        await wg(lab, devices[node], [
          'set', WIREGUARD.device, 'peer', devices[peer].publicKey,
          'persistent-keepalive', WIREGUARD.keepalive === 0 ? 'off' : String(WIREGUARD.keepalive),
          'endpoint', leaseEndpoint(peer),
          'allowed-ips', NODES[peer].podCidr,
        ]);
      await lab.run(net.nodes[node], ['ip', 'route', 'replace', CLUSTER.podCidr, 'dev', WIREGUARD.device, 'scope', 'link']);
    }),
  );
  return devices;
}

/** `wg show flannel-wg <field>` as peer public key → value (`latest-handshakes`, `endpoints`, `transfer`). */
export async function wgShow(lab: Lab, dev: WgDevice, field: 'latest-handshakes' | 'endpoints' | 'allowed-ips' | 'transfer' | 'persistent-keepalive'): Promise<Map<string, string>> {
  const out = await wg(lab, dev, ['show', WIREGUARD.device, field]);
  return new Map(out.trim().split('\n').filter(Boolean).map((l) => {
    const [key, ...rest] = l.split('\t');
    return [key!, rest.join('\t')] as const;
  }));
}

// ---- packet capture ----

/** One captured frame, and of an IPv4 packet its addresses, protocol, ports and flags. */
export interface CapturedPacket {
  /** The link's protocol (0x0800 IPv4, 0x0806 ARP, 0x86dd IPv6). */
  ethertype: number;
  src?: string;
  dst?: string;
  /** IP protocol (17 UDP, 6 TCP, 1 ICMP); for IPv6 the next header (58 ICMPv6). */
  protocol?: number;
  /** UDP/TCP ports; absent for a non-first fragment. */
  sport?: number;
  dport?: number;
  /** True when the packet is a non-first IP fragment. */
  fragment?: boolean;
  /** Don't Fragment bit. */
  df?: boolean;
  length: number;
  /** True when the capture holds less of the frame than was on the wire. */
  truncated: boolean;
  /** The link-layer frame, headers included. */
  bytes: Buffer;
}

const LINKTYPE = { ethernet: 1, raw: 101, rawAlt: 12, sll: 113, sll2: 276 } as const;

/** Where the network-layer packet and its protocol start in a frame of `linktype`. */
function network(linktype: number, frame: Buffer): { ethertype: number; offset: number } | undefined {
  switch (linktype) {
    case LINKTYPE.ethernet:
      return frame.length >= 14 ? { ethertype: frame.readUInt16BE(12), offset: 14 } : undefined;
    case LINKTYPE.sll:
      return frame.length >= 16 ? { ethertype: frame.readUInt16BE(14), offset: 16 } : undefined;
    case LINKTYPE.sll2:
      return frame.length >= 20 ? { ethertype: frame.readUInt16BE(0), offset: 20 } : undefined;
    case LINKTYPE.raw:
    case LINKTYPE.rawAlt:
      return frame.length >= 1 ? { ethertype: frame[0]! >> 4 === 4 ? 0x0800 : 0x86dd, offset: 0 } : undefined;
    default:
      throw new Error(`pcap link type ${linktype} is not one this parser knows`);
  }
}

const ipv4 = (b: Buffer, at: number): string => [...b.subarray(at, at + 4)].join('.');

/** Parses a classic pcap file (as `tcpdump -w` writes it) into packets. */
export function parsePcap(file: Buffer): CapturedPacket[] {
  if (file.length < 24) return [];
  const magic = file.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && file.readUInt32BE(0) !== 0xa1b2c3d4 && file.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const u32 = (at: number) => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const linktype = u32(20) & 0x0fffffff;
  const packets: CapturedPacket[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const caplen = u32(at + 8);
    const truncated = caplen < u32(at + 12);
    const frame = file.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    const net = network(linktype, frame);
    if (!net) continue;
    const p: CapturedPacket = { ethertype: net.ethertype, length: frame.length - net.offset, truncated, bytes: frame };
    const ip = frame.subarray(net.offset);
    if (net.ethertype === 0x86dd && ip.length >= 40) p.protocol = ip[6] === 0 && ip.length >= 41 ? ip[40]! : ip[6]!; // past a hop-by-hop header (MLD)
    if (net.ethertype === 0x0800 && ip.length >= 20) {
      const ihl = (ip[0]! & 0x0f) * 4;
      const flags = ip.readUInt16BE(6);
      Object.assign(p, { src: ipv4(ip, 12), dst: ipv4(ip, 16), protocol: ip[9]!, df: (flags & 0x4000) !== 0 });
      if ((flags & 0x1fff) !== 0) p.fragment = true;
      else if ((ip[9] === 17 || ip[9] === 6) && ip.length >= ihl + 4) Object.assign(p, { sport: ip.readUInt16BE(ihl), dport: ip.readUInt16BE(ihl + 2) });
    }
    packets.push(p);
  }
  return packets;
}

export interface CaptureResult {
  /** The pcap file's bytes. */
  pcap: Buffer;
  /** What tcpdump said when it stopped: packets written, and packets the kernel dropped for lack of room. */
  captured: number;
  droppedByKernel: number;
}

export interface Capture {
  /** Stops tcpdump and returns what it captured. */
  stop(): Promise<CaptureResult>;
}

/** More than the lab's links carry (1500); a frame cut short would say so (CapturedPacket.truncated). */
const SNAPLEN = 2048;
/** The capture ring, in KiB: tcpdump's default (2 MiB) overflows during a bulk transfer. */
const BUFFER_KIB = 32768;

/**
 * Starts tcpdump in `ns` on `iface` ('any': every interface), writing pcap to `file`, and waits until
 * it listens. No filter: everything the interfaces carry is captured. Immediate mode: without it,
 * packets wait in the capture ring for its timeout and a stop loses them.
 */
export async function startCapture(lab: Lab, ns: string, iface: string, file: string): Promise<Capture> {
  const child = lab.spawn(ns, ['setpriv', '--pdeathsig', 'KILL', 'tcpdump', '-i', iface, '-n', '-s', String(SNAPLEN), '-B', String(BUFFER_KIB), '--immediate-mode', '-w', file, '-Z', 'root']);
  let stderr = '';
  // 'close', not 'exit': the process may be gone before its last output has been read
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/listening on/.test(stderr)) resolve();
    });
    void closed.then(() => reject(new Error(`tcpdump in ${ns} exited: ${stderr}`)));
  });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 100)); // the last packets' way through the namespaces
      child.kill('SIGINT');
      await closed;
      const count = (what: string) => Number(new RegExp(`(\\d+) packets? ${what}`).exec(stderr)?.[1] ?? NaN);
      return { pcap: await readFile(file), captured: count('captured'), droppedByKernel: count('dropped by kernel') };
    },
  };
}

// ---- pod traffic with a marker ----

/** Prints `listening`, then `<client address> <line>` per client; answers `<line> <client address>`. */
const MARKER_SERVER = `
const [port] = process.argv.slice(1);
require('node:net').createServer((s) => {
  let text = '';
  s.on('data', (d) => {
    text += d;
    if (!text.includes('\\n')) return;
    const line = text.split('\\n')[0];
    console.log(s.remoteAddress + ' ' + line);
    s.end(line + ' ' + s.remoteAddress + '\\n');
  });
  s.on('error', () => {});
}).listen(Number(port), '0.0.0.0', () => console.log('listening'));
`;

export interface MarkerServer {
  /** `{ from, line }` per client, in order. */
  readonly received: { from: string; line: string }[];
}

/** A TCP server in `ns` on 0.0.0.0:`port` that records each client's address and line, and echoes it. */
export async function startMarkerServer(lab: Lab, ns: string, port: number): Promise<MarkerServer> {
  const child = lab.spawn(ns, ['node', '-e', MARKER_SERVER, String(port)]);
  const server: MarkerServer = { received: [] };
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`marker server in ${ns} exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const l of lines) {
        if (l === 'listening') resolve();
        else {
          const [from, ...rest] = l.split(' ');
          server.received.push({ from: from!, line: rest.join(' ') });
        }
      }
    });
  });
  return server;
}

/** Connects from `ns`, sends `line` and returns the reply (`<line> <address the server saw>`). */
export const sendMarker = (lab: Lab, ns: string, host: string, port: number, line: string, timeoutMs = 2000): Promise<ConnectResult> =>
  tryConnect(lab, ns, host, port, { line, timeoutMs });
