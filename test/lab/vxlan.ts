/**
 * Hand-made VXLAN frames, as an attacker on the internet would send them to a node's public IP: a VXLAN
 * header (VNI), an Ethernet frame to the node's VTEP MAC, and inside it an IPv4/UDP packet "from" any pod.
 * A UDP listener in a pod records what reaches it.
 */
import { createInterface } from 'node:readline';
import type { Lab } from './netns.js';

const ipv4 = (a: string): number[] => a.split('.').map(Number);
const mac = (m: string): number[] => m.split(':').map((x) => parseInt(x, 16));

/** RFC 1071 checksum of an IPv4 header. */
function checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface InnerPacket {
  vni: number;
  /** The receiving node's VTEP MAC (flannel.1's address). */
  dstMac: string;
  src: string;
  dst: string;
  dstPort: number;
  text: string;
}

/** VXLAN header + Ethernet + IPv4 + UDP (checksum 0: none) + text. */
export function vxlanFrame(p: InnerPacket): Buffer {
  const payload = Buffer.from(p.text);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(40000, 0);
  udp.writeUInt16BE(p.dstPort, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.from([0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, ...ipv4(p.src), ...ipv4(p.dst)]);
  ip.writeUInt16BE(20 + udp.length + payload.length, 2);
  ip.writeUInt16BE(checksum(ip), 10);
  const ethernet = Buffer.from([...mac(p.dstMac), 0x02, 0xee, 0xee, 0xee, 0xee, 0xee, 0x08, 0x00]);
  const vxlan = Buffer.from([0x08, 0, 0, 0, (p.vni >> 16) & 255, (p.vni >> 8) & 255, p.vni & 255, 0]);
  return Buffer.concat([vxlan, ethernet, ip, udp, payload]);
}

const SENDER = `
const [host, port, hex] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
s.send(Buffer.from(hex, 'hex'), Number(port), host, (e) => { if (e) { console.error(e.message); process.exit(1); } s.close(); });
`;

/** Sends one UDP datagram from `ns`. */
export const sendUdp = (lab: Lab, ns: string, host: string, port: number, data: Buffer): Promise<string> =>
  lab.run(ns, ['node', '-e', SENDER, host, String(port), data.toString('hex')]);

const LISTENER = `
const [host, port] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => console.log(JSON.stringify({ from: r.address, text: m.toString() })));
s.bind(Number(port), host, () => console.log('listening'));
`;

export interface UdpListener {
  /** What arrived so far. */
  readonly received: { from: string; text: string }[];
}

export async function startUdpListener(lab: Lab, ns: string, host: string, port: number): Promise<UdpListener> {
  const child = lab.spawn(ns, ['node', '-e', LISTENER, host, String(port)]);
  const listener: UdpListener = { received: [] };
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`udp listener in ${ns} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (l) => (l === 'listening' ? resolve() : listener.received.push(JSON.parse(l) as { from: string; text: string })));
  });
  return listener;
}
