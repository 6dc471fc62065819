/** The cluster as the source of the map: Node objects → the table's wanted content, and the agent's log lines. */
import { describe, expect, it } from 'vitest';
import { clusterNodeOf, describePeerChanges, wantFromCluster, type ClusterNode } from '../src/crossvpc/cluster-nodes.js';
import { addressMaps } from '../src/crossvpc/nft.js';

const node = (name: string, privateIP: string, vpc?: string, publicIP?: string): ClusterNode => ({
  name, privateIP, ...(vpc ? { vpc } : {}), ...(publicIP !== undefined ? { publicIP } : {}),
});
const cluster = [
  node('cp', '172.16.1.10', 'vpc-a', '203.0.113.10'),
  node('w3', '172.16.1.11', 'vpc-a', '203.0.113.11'),
  node('w1', '172.16.2.20', 'vpc-b', '203.0.113.20'),
  node('w2', '172.16.3.30', 'vpc-c', '203.0.113.30'),
];

describe('Node objects', () => {
  it('reads the InternalIP, the knit.dev/vpc label and the knit.dev/public-ip annotation', () => {
    expect(clusterNodeOf({
      metadata: { name: 'w1', labels: { 'knit.dev/vpc': 'vpc-b', 'kubernetes.io/os': 'linux' }, annotations: { 'knit.dev/public-ip': '203.0.113.20' } },
      status: { addresses: [{ type: 'Hostname', address: 'w1' }, { type: 'InternalIP', address: '172.16.2.20' }] },
    })).toEqual(node('w1', '172.16.2.20', 'vpc-b', '203.0.113.20'));
    expect(clusterNodeOf({ metadata: { name: 'new' }, status: { addresses: [{ type: 'InternalIP', address: 'fd00::1' }] } })).toEqual({ name: 'new' });
    expect(clusterNodeOf({ metadata: {} })).toBeUndefined();
  });
});

describe('wantFromCluster', () => {
  it('maps every node outside the VPC to its public IP, and lets every node address speak the overlay', () => {
    const r = wantFromCluster('cp', cluster);
    expect(r).toEqual({
      want: {
        peers: [{ name: 'w1', privateIP: '172.16.2.20', publicIP: '203.0.113.20' }, { name: 'w2', privateIP: '172.16.3.30', publicIP: '203.0.113.30' }],
        nodes: ['172.16.1.10', '203.0.113.10', '172.16.1.11', '203.0.113.11', '172.16.2.20', '203.0.113.20', '172.16.3.30', '203.0.113.30'],
      },
      skipped: [],
    });
  });

  it('groups unlabelled nodes by their /24, never with a labelled one', () => {
    const r = wantFromCluster('a', [node('a', '10.0.1.5', undefined, '198.51.100.1'), node('b', '10.0.1.6'), node('c', '10.0.2.5', undefined, '198.51.100.3'), node('d', '10.0.1.7', 'vpc-x', '198.51.100.4')]);
    expect('want' in r && r.want.peers.map((p) => p.name)).toEqual(['c', 'd']);
  });

  it('skips a node outside the VPC without a usable public IP, says how to fix it, and never writes the bad value', () => {
    for (const bad of [undefined, 'not-an-ip', '10.9.9.9', '203.0.113.99\nflush ruleset']) {
      const r = wantFromCluster('cp', [...cluster.slice(0, 3), node('w2', '172.16.3.30', 'vpc-c', bad)]);
      if (!('want' in r)) throw new Error(r.error);
      expect(r.want.peers.map((p) => p.name)).toEqual(['w1']);
      expect(r.want.nodes).not.toContain(bad);
      expect(r.skipped).toEqual([{ node: 'w2', reason: expect.stringMatching(bad === undefined ? /^no knit\.dev\/public-ip annotation$/ : /is not a public IPv4 address$/), fix: expect.stringContaining('kubectl annotate node w2 knit.dev/public-ip=') }]);
    }
  });

  it("keeps what the table already maps for a node that lost its annotation (the spec's seed), rather than cutting it off", () => {
    const live = addressMaps({ peers: [{ name: 'w2', privateIP: '172.16.3.30', publicIP: '203.0.113.30' }], nodes: [] });
    const r = wantFromCluster('cp', [...cluster.slice(0, 3), node('w2', '172.16.3.30', 'vpc-c')], live);
    expect('want' in r && r.want.peers.map((p) => `${p.name} ${p.publicIP}`)).toEqual(['w1 203.0.113.20', 'w2 203.0.113.30']);
  });

  it('waits, changing nothing, while the local node is not registered', () => {
    expect(wantFromCluster('w9', cluster)).toEqual({ error: 'node w9 is not in the cluster yet (or has no InternalIP)' });
  });
});

describe("the agent's log", () => {
  it('says each change once, and nothing when nothing changed', () => {
    const a = { name: 'w1', privateIP: '172.16.2.20', publicIP: '203.0.113.20' };
    const b = { name: 'w2', privateIP: '172.16.3.30', publicIP: '203.0.113.30' };
    expect(describePeerChanges([a, b], [a, b])).toEqual([]);
    expect(describePeerChanges([a], [{ ...a, publicIP: '203.0.113.21' }, b])).toEqual([
      'updated peer w1: 172.16.2.20 -> 203.0.113.20 is now 172.16.2.20 -> 203.0.113.21',
      'added peer w2: 172.16.3.30 -> 203.0.113.30',
    ]);
    expect(describePeerChanges([a, b], [b])).toEqual(['removed peer w1: 172.16.2.20 -> 203.0.113.20']);
  });
});
