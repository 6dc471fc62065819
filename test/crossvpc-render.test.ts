/** The pure half of cross-VPC networking: peer selection, the nftables map, the unit and the plans. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCniAcrossVpcs } from '../src/crossvpc/cni-support.js';
import { NO_LEGACY, parseLegacyNat, renderLegacyNatRemoval } from '../src/crossvpc/legacy.js';
import { ADDRESS_TYPES_ARG, metricsServerArgsPatch, pinAddressTypes } from '../src/crossvpc/metrics-server.js';
import { addressMaps, diffNftTable, mssForMtu, nftShape, planNftUpdate, renderNftTable, type NftMapOptions, type NftTableState, type NftWant } from '../src/crossvpc/nft.js';
import { peersOutsideVpc, sameVpc, type CrossVpcPeer } from '../src/crossvpc/peers.js';
import { NO_LEGACY_FACTS, nftOptions, nftWant, planCrossVpcApply, planCrossVpcRemove, renderCrossVpcRulesFile, type CrossVpcFacts } from '../src/crossvpc/plan.js';
import { renderCrossVpcUnit } from '../src/crossvpc/unit.js';
import { UsageError } from '../src/errors.js';
import { formatPlan } from '../src/runner/describe.js';
import { specSchema, type SpecInput } from '../src/spec/schema.js';

type NodeInput = SpecInput['nodes'][number];

const spec = (nodes: NodeInput[], network: SpecInput['network'] = { plugin: 'flannel' }) =>
  specSchema.parse({ kubernetes: { controlPlaneEndpoint: '203.0.113.10' }, network, nodes });

const master: NodeInput = { name: 'master', role: 'control-plane', privateIP: '172.16.1.10', publicIP: '203.0.113.10', vpc: 'vpc-a' };
const worker: NodeInput = { name: 'worker', privateIP: '172.16.2.20', publicIP: '203.0.113.20', vpc: 'vpc-b' };
const twoVpcs = spec([master, worker]);
const facts: CrossVpcFacts = { legacy: NO_LEGACY_FACTS };
const MSS: NftMapOptions = { mss: 1360, overlay: [{ protocol: 'udp', number: 8472 }] };
const want = (peers: readonly CrossVpcPeer[], nodes: string[] = []): NftWant => ({ peers, nodes });

/** The table as the kernel would hold it after loading `peers` (what `nft -j list` parses to). */
const liveTable = (peers: readonly CrossVpcPeer[], opts = MSS, nodes: string[] = []): NftTableState => ({ shape: nftShape(opts), maps: addressMaps(want(peers, nodes)) });
const peer = (i: number): CrossVpcPeer => ({ name: `p${i}`, privateIP: `10.1.0.${i}`, publicIP: `198.18.0.${i}` });

/** iptables-save -t nat text for a table holding `rules` (and any chains they name). */
const saved = (chains: string[], rules: string[]) =>
  ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
    ...chains.map((c) => `:${c} - [0:0]`), ...rules, 'COMMIT', ''].join('\n');

describe('peersOutsideVpc', () => {
  it('groups labelled nodes by label and sorts peers by name', () => {
    const s = spec([
      { ...worker, name: 'zeta', privateIP: '172.16.3.30', publicIP: '198.51.100.30' },
      master,
      { ...worker, name: 'alpha', privateIP: '172.16.2.21', publicIP: '198.51.100.21' },
      { name: 'neighbour', privateIP: '172.16.1.11', vpc: 'vpc-a' }, // same VPC: no publicIP needed
    ]);
    expect(peersOutsideVpc(s, 'master').map((p) => p.name)).toEqual(['alpha', 'zeta']);
  });

  it('groups unlabelled nodes by the /24 of their private IP', () => {
    const a = { name: 'a', role: 'control-plane', privateIP: '10.0.1.5', publicIP: '198.51.100.1' } as const;
    const b = { name: 'b', privateIP: '10.0.1.200' };
    const c = { name: 'c', privateIP: '10.0.2.5', publicIP: '198.51.100.3' };
    const s = spec([a, b, c]);
    expect(peersOutsideVpc(s, 'a')).toEqual([{ name: 'c', privateIP: '10.0.2.5', publicIP: '198.51.100.3' }]);
  });

  it('never puts a labelled and an unlabelled node in one VPC', () => {
    const s = spec([master, { name: 'x', privateIP: '172.16.1.11', publicIP: '198.51.100.9' }]);
    expect(sameVpc(s.nodes[0]!, s.nodes[1]!)).toBe(false);
  });

  it('names the field when a peer outside the VPC has no publicIP', () => {
    const s = spec([master, { name: 'w2', privateIP: '172.16.9.9', vpc: 'vpc-c' }]);
    expect(() => peersOutsideVpc(s, 'master')).toThrow(UsageError);
    expect(() => peersOutsideVpc(s, 'master')).toThrow(/^nodes\[1\]\.publicIP: w2 \(vpc vpc-c\) is outside master's VPC \(vpc vpc-a\)/);
  });

  it('names the field when the local node has cross-VPC peers but no publicIP', () => {
    const s = spec([{ ...master, publicIP: undefined }, worker]);
    expect(() => peersOutsideVpc(s, 'master')).toThrow(/^nodes\[0\]\.publicIP: master has peers outside its VPC \(worker\)/);
  });

  it('fails on a node that is not in the spec', () => {
    expect(() => peersOutsideVpc(twoVpcs, 'nope')).toThrow(/node nope is not in the spec/);
  });
});

describe('the nftables map', () => {
  it('renders one table: two maps, MSS clamps, and the rewrites at postrouting 300 and prerouting -310', () => {
    expect(renderCrossVpcRulesFile(twoVpcs, 'master')).toMatchInlineSnapshot(`
      "# knit cross-vpc address map for master (private 172.16.1.10, public 203.0.113.10): 1 peer(s) outside its VPC
      # Loaded at boot by knit-crossvpc.service: nft -f /etc/knit/crossvpc.nft
      table ip knit
      delete table ip knit
      table ip knit {
      	map peer_public {
      		type ipv4_addr : ipv4_addr
      		elements = { 172.16.2.20 : 203.0.113.20 }
      	}
      	map peer_private {
      		type ipv4_addr : ipv4_addr
      		elements = { 203.0.113.20 : 172.16.2.20 }
      	}
      	set nodes {
      		type ipv4_addr
      		elements = { 172.16.1.10, 203.0.113.10, 172.16.2.20, 203.0.113.20 }
      	}
      	chain postrouting {
      		type filter hook postrouting priority 300; policy accept;
      		tcp flags syn ip daddr @peer_public tcp option maxseg size > 1360 tcp option maxseg size set 1360 comment "knit: clamp the TCP MSS to 1360 toward mapped peers"
      		ip daddr set ip daddr map @peer_public comment "knit: a peer private IP becomes its public IP"
      	}
      	chain prerouting {
      		type filter hook prerouting priority -310; policy accept;
      		fib daddr type local ip saddr != @nodes udp dport 8472 drop comment "knit: only cluster nodes may send 8472/udp here"
      		tcp flags syn ip saddr @peer_private tcp option maxseg size > 1360 tcp option maxseg size set 1360 comment "knit: clamp the TCP MSS to 1360 from mapped peers"
      		ip saddr set ip saddr map @peer_private comment "knit: a peer public IP becomes its private IP"
      	}
      	chain output_nat {
      		type nat hook output priority -100; policy accept;
      		dnat to ip daddr map @peer_private comment "knit: a connection to a peer's public IP goes to its private IP"
      	}
      	chain prerouting_nat {
      		type nat hook prerouting priority -100; policy accept;
      		dnat to ip daddr map @peer_private comment "knit: a connection to a peer's public IP goes to its private IP"
      	}
      }
      "
    `);
  });

  it('clamps to crossvpc.mtu - 40', () => {
    expect(mssForMtu(1400)).toBe(1360);
    const s = specSchema.parse({ ...twoVpcs, crossvpc: { mtu: 1280 } });
    expect(renderCrossVpcRulesFile(s, 'master')).toContain('tcp option maxseg size > 1240 tcp option maxseg size set 1240');
  });

  it('has no map entries for a node whose peers are all in its VPC', () => {
    const table = renderNftTable(want([]), MSS);
    expect(table).not.toContain('elements');
    expect(table).toContain('map peer_public {');
  });

  it('against the same table live, changes nothing; against another shape, replaces the table', () => {
    const peers = peersOutsideVpc(twoVpcs, 'master');
    expect(planNftUpdate(want(peers), liveTable(peers), MSS)).toBeUndefined();
    expect(planNftUpdate(want(peers), undefined, MSS)).toBe(renderNftTable(want(peers), MSS));
    expect(planNftUpdate(want(peers), liveTable(peers, { ...MSS, mss: 1400 }), MSS)).toBe(renderNftTable(want(peers), MSS));
    expect(planNftUpdate(want(peers), liveTable(peers, { ...MSS, overlay: [] }), MSS)).toBe(renderNftTable(want(peers), MSS));
  });

  it('guards the CNI overlay ports to the nodes of the spec, private and public addresses', () => {
    expect(nftWant(twoVpcs, 'master').nodes).toEqual(['172.16.1.10', '203.0.113.10', '172.16.2.20', '203.0.113.20']);
    const calico = spec([master, worker], { plugin: 'calico', calico: { mode: 'vxlan' } });
    expect(nftOptions(calico).overlay).toEqual([{ protocol: 'udp', number: 4789, what: 'VXLAN' }]);
    expect(renderCrossVpcRulesFile(calico, 'master')).toContain(
      'fib daddr type local ip saddr != @nodes udp dport 4789 drop comment "knit: only cluster nodes may send 4789/udp here"',
    );
  });

  it('changes only elements when the shape matches: deletions first, then additions, in both maps', () => {
    const live = liveTable([peer(1), peer(2), { ...peer(3), publicIP: '198.18.0.33' }]);
    expect(planNftUpdate(want([peer(1), peer(3), peer(4)], ['10.1.0.4']), live, MSS)).toBe(
      [
        'delete element ip knit peer_public { 10.1.0.2, 10.1.0.3 }',
        'delete element ip knit peer_private { 198.18.0.2, 198.18.0.33 }',
        'add element ip knit peer_public { 10.1.0.3 : 198.18.0.3, 10.1.0.4 : 198.18.0.4 }',
        'add element ip knit peer_private { 198.18.0.3 : 10.1.0.3, 198.18.0.4 : 10.1.0.4 }',
        'add element ip knit nodes { 10.1.0.4 }',
        '',
      ].join('\n'),
    );
  });

  it('an element update leaves exactly the wanted maps, whatever the live ones held', () => {
    const peers = fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }).map((ids) => ids.map(peer));
    fc.assert(
      fc.property(peers, peers, (wanted, had) => {
        const [w, h] = [want(wanted, wanted.map((p) => p.publicIP)), want(had, had.map((p) => p.publicIP))];
        const live = liveTable(had, MSS, [...h.nodes]);
        const payload = planNftUpdate(w, live, MSS) ?? '';
        // apply the element commands to a copy of the live maps, as nft would
        for (const m of payload.matchAll(/^(add|delete) element ip knit (peer_public|peer_private|nodes) \{ (.*) \}$/gm)) {
          for (const e of m[3]!.split(', ')) {
            const [k, v] = e.split(' : ');
            if (m[2] === 'nodes') {
              if (m[1] === 'delete') expect(live.maps.nodes.delete(k!)).toBe(true);
              else live.maps.nodes.add(k!);
              continue;
            }
            const map = m[2] === 'peer_public' ? live.maps.toPublic : live.maps.toPrivate;
            if (m[1] === 'delete') expect(map.delete(k!)).toBe(true); // nft fails the transaction on an absent element
            else map.set(k!, v!);
          }
        }
        expect(live.maps).toEqual(addressMaps(w));
      }),
    );
  });

  it('reports drift per map entry', () => {
    const live = liveTable([peer(1), { ...peer(2), publicIP: '198.18.0.22' }]);
    expect(diffNftTable(want([peer(1), peer(2)]), live, MSS)).toEqual({
      table: 'current',
      missing: ['peer_public 10.1.0.2 : 198.18.0.2', 'peer_private 198.18.0.2 : 10.1.0.2'],
      unexpected: ['peer_public 10.1.0.2 : 198.18.0.22', 'peer_private 198.18.0.22 : 10.1.0.2'],
    });
    expect(diffNftTable(want([peer(1)]), undefined, MSS)).toMatchObject({ table: 'missing', unexpected: [] });
    expect(diffNftTable(want([peer(1)]), liveTable([peer(1)], { ...MSS, mss: 1000 }), MSS)).toMatchObject({ table: 'outdated', missing: [], unexpected: [] });
    expect(diffNftTable(want([peer(1)], ['10.1.0.9']), liveTable([peer(1)]), MSS)).toMatchObject({ missing: ['nodes 10.1.0.9'] });
  });
});

describe("earlier versions' iptables chains", () => {
  const table = saved(
    ['KNIT-CROSSVPC', 'KNIT-CROSSVPC-IN', 'KUBE-SERVICES'],
    [
      '-A PREROUTING -j KUBE-SERVICES',
      '-A PREROUTING -j KNIT-CROSSVPC',
      '-A OUTPUT -j KNIT-CROSSVPC',
      '-A OUTPUT -m comment --comment "old" -g KNIT-CROSSVPC',
      '-A INPUT -j KNIT-CROSSVPC-IN',
      '-A KNIT-CROSSVPC -d 172.16.2.20/32 -j DNAT --to-destination 203.0.113.20',
    ],
  );

  it('finds the chains and every jump into them (and nothing else)', () => {
    expect(parseLegacyNat(table)).toEqual({
      chains: ['KNIT-CROSSVPC', 'KNIT-CROSSVPC-IN'],
      jumps: ['-A PREROUTING -j KNIT-CROSSVPC', '-A OUTPUT -j KNIT-CROSSVPC', '-A OUTPUT -m comment --comment "old" -g KNIT-CROSSVPC', '-A INPUT -j KNIT-CROSSVPC-IN'],
    });
  });

  it('removes jumps first, then flushes and deletes the chains, in one transaction', () => {
    expect(renderLegacyNatRemoval(parseLegacyNat(table))).toBe(
      [
        '# knit: remove the iptables cross-vpc chains of earlier versions and the jumps into them',
        '*nat',
        '-D PREROUTING -j KNIT-CROSSVPC',
        '-D OUTPUT -j KNIT-CROSSVPC',
        '-D OUTPUT -m comment --comment "old" -g KNIT-CROSSVPC',
        '-D INPUT -j KNIT-CROSSVPC-IN',
        '-F KNIT-CROSSVPC',
        '-F KNIT-CROSSVPC-IN',
        '-X KNIT-CROSSVPC',
        '-X KNIT-CROSSVPC-IN',
        'COMMIT',
        '',
      ].join('\n'),
    );
    expect(renderLegacyNatRemoval(NO_LEGACY)).toBeUndefined();
  });
});

describe('CNI across VPCs', () => {
  it.each(['ipip', 'bgp', 'crosssubnet'] as const)('rejects calico %s', (mode) => {
    expect(() => planCrossVpcApply(spec([master, worker], { plugin: 'calico', calico: { mode } }), 'master', facts)).toThrow(
      new RegExp(`^network\\.calico\\.mode \\(--calico-mode\\): ${mode} does not work across VPCs`),
    );
  });

  it('allows calico vxlan and flannel vxlan; rejects flannel host-gw and terway', () => {
    expect(() => checkCniAcrossVpcs(spec([master], { plugin: 'calico', calico: { mode: 'vxlan' } }))).not.toThrow();
    expect(() => checkCniAcrossVpcs(spec([master]))).not.toThrow();
    expect(() => checkCniAcrossVpcs(spec([master], { plugin: 'flannel', flannel: { backend: 'host-gw' } }))).toThrow(/^network\.flannel\.backend: host-gw/);
    expect(() => checkCniAcrossVpcs(spec([master], { plugin: 'terway' }))).toThrow(/^network\.plugin \(--cni\): terway/);
  });

  it('does not check the CNI when the node has no peers outside its VPC', () => {
    expect(planCrossVpcApply(spec([master], { plugin: 'calico', calico: { mode: 'ipip' } }), 'master', facts)).toEqual([]);
  });
});

describe('planCrossVpcApply', () => {
  it('plans map, persist and boot; the dry-run text says what each does', () => {
    expect(formatPlan('knit crossvpc apply', planCrossVpcApply(twoVpcs, 'master', facts))).toMatchInlineSnapshot(`
      "knit crossvpc apply

      [1/3] crossvpc/map — Map 1 peer(s) outside the VPC to their public IPs; the overlay answers only the 2 nodes (nftables table ip knit)
            apply one nft transaction to table ip knit (1 table created or replaced, 6 elements)
            note: peers: worker (172.16.2.20 → 203.0.113.20); TCP MSS to and from them clamped to 1360 (crossvpc.mtu 1400)
      [2/3] crossvpc/persist — Save the map, the unit that loads it at boot, and the agent that keeps it equal to the cluster
            write /etc/knit/crossvpc.nft (1717 bytes, mode 0644)
            write /etc/systemd/system/knit-crossvpc.service (559 bytes, mode 0644)
            write /etc/knit/crossvpc-agent.json (164 bytes, mode 0644)
            write /etc/systemd/system/knit-crossvpc-agent.service (453 bytes, mode 0644)
      [3/3] crossvpc/boot — Enable knit-crossvpc.service, and start knit-crossvpc-agent.service
            already done when \`systemctl is-enabled --quiet knit-crossvpc.service\` succeeds and \`systemctl is-enabled --quiet knit-crossvpc-agent.service\` succeeds and \`systemctl is-active --quiet knit-crossvpc-agent.service\` succeeds
            run systemctl daemon-reload
            run systemctl enable knit-crossvpc.service
            run systemctl enable --now knit-crossvpc-agent.service
            note: until the API server answers, the map is the spec's; then knit-crossvpc-agent.service keeps it equal to the cluster's Nodes
      "
    `);
  });

  it('loads nothing when the live table already is the map, and always saves the whole table for boot', () => {
    const peers = peersOutsideVpc(twoVpcs, 'worker');
    const [map, persist] = planCrossVpcApply(twoVpcs, 'worker', { ...facts, table: liveTable(peers, nftOptions(twoVpcs), nftWant(twoVpcs, 'worker').nodes as string[]) });
    expect(map).toMatchObject({ id: 'crossvpc/map', effects: [] });
    expect(persist!.effects[0]).toMatchObject({ kind: 'file', path: '/etc/knit/crossvpc.nft', content: renderCrossVpcRulesFile(twoVpcs, 'worker') });
  });

  it('is the same for calico vxlan (its VTEPs are private IPs, mapped like any other traffic)', () => {
    const ids = planCrossVpcApply(spec([master, worker], { plugin: 'calico', calico: { mode: 'vxlan' } }), 'master', facts).map((s) => s.id);
    expect(ids).toEqual(['crossvpc/map', 'crossvpc/persist', 'crossvpc/boot']);
  });

  it("replaces earlier versions' iptables chains and file, after the map is loaded", () => {
    const nat = parseLegacyNat(saved(['KNIT-CROSSVPC'], ['-A OUTPUT -j KNIT-CROSSVPC']));
    const steps = planCrossVpcApply(twoVpcs, 'master', { legacy: { nat, rulesFile: true } });
    expect(steps.map((s) => s.id)).toEqual(['crossvpc/map', 'crossvpc/legacy', 'crossvpc/persist', 'crossvpc/boot']);
    expect(steps[1]!.effects).toEqual([
      { kind: 'iptables', payload: renderLegacyNatRemoval(nat) },
      { kind: 'remove', path: '/etc/knit/crossvpc.rules' },
    ]);
  });

  it("removes flannel's public-ip-overwrite that earlier versions set, and restarts the node's flannel pod", () => {
    const kubeconfig = '/etc/kubernetes/admin.conf';
    const step = planCrossVpcApply(twoVpcs, 'master', { ...facts, kubeconfig, flannelOverwrite: '203.0.113.10' }).find((s) => s.id === 'crossvpc/flannel');
    expect(step?.effects).toEqual([
      { kind: 'kube-annotate', node: 'master', annotations: { 'flannel.alpha.coreos.com/public-ip-overwrite': null } },
      { kind: 'exec', argv: ['kubectl', '--kubeconfig', kubeconfig, '--namespace', 'kube-flannel', 'delete', 'pod', '--selector', 'app=flannel',
        '--field-selector', 'spec.nodeName=master', '--wait=false'] },
    ]);
    expect(planCrossVpcApply(twoVpcs, 'master', { ...facts, kubeconfig }).some((s) => s.id === 'crossvpc/flannel')).toBe(false);
  });

  it("canal's flanneld reads the same annotation: the step restarts the node's canal pod; Calico runs no flanneld", () => {
    const kubeconfig = '/etc/kubernetes/admin.conf';
    const canal = spec([master, worker], { plugin: 'canal' });
    expect(() => checkCniAcrossVpcs(canal)).not.toThrow();
    const step = planCrossVpcApply(canal, 'master', { ...facts, kubeconfig, flannelOverwrite: '203.0.113.10' }).find((s) => s.id === 'crossvpc/flannel');
    expect(step?.effects[1]).toEqual({
      kind: 'exec',
      argv: ['kubectl', '--kubeconfig', kubeconfig, '--namespace', 'kube-system', 'delete', 'pod', '--selector', 'k8s-app=canal', '--field-selector', 'spec.nodeName=master', '--wait=false'],
    });
    // the guard keeps canal's VXLAN port to cluster nodes, as flannel's
    expect(nftOptions(spec([master, worker], { plugin: 'canal', canal: { port: 4789 } })).overlay).toEqual([{ protocol: 'udp', number: 4789, what: 'VXLAN' }]);
    const calico = spec([master, worker], { plugin: 'calico', calico: { mode: 'vxlan' } });
    expect(planCrossVpcApply(calico, 'master', { ...facts, kubeconfig, flannelOverwrite: '203.0.113.10' }).some((s) => s.id === 'crossvpc/flannel')).toBe(false);
  });

  it('patches metrics-server only when it is installed and its address types need pinning', () => {
    const upstreamArgs = ['--cert-dir=/tmp', '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname', '--metric-resolution=15s'];
    const withMs = (args: string[]) =>
      planCrossVpcApply(twoVpcs, 'master', { ...facts, kubeconfig: '/etc/kubernetes/admin.conf', metricsServer: { container: 'metrics-server', args } });
    const step = withMs(upstreamArgs).find((s) => s.id === 'crossvpc/metrics-server');
    expect(step?.effects).toEqual([
      {
        kind: 'exec',
        argv: ['kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf', '--namespace', 'kube-system', 'patch', 'deployment', 'metrics-server',
          '--type', 'strategic', '--patch',
          '{"spec":{"template":{"spec":{"containers":[{"name":"metrics-server","args":["--cert-dir=/tmp","--kubelet-preferred-address-types=InternalIP","--metric-resolution=15s"]}]}}}}'],
      },
    ]);
    expect(withMs(['--cert-dir=/tmp', ADDRESS_TYPES_ARG]).some((s) => s.id === 'crossvpc/metrics-server')).toBe(false);
    expect(planCrossVpcApply(twoVpcs, 'master', facts).some((s) => s.id === 'crossvpc/metrics-server')).toBe(false);
  });
});

describe('metrics-server args', () => {
  it('pins the address types however they were spelled, keeping the other args', () => {
    expect(pinAddressTypes(['--a'])).toEqual(['--a', ADDRESS_TYPES_ARG]);
    expect(pinAddressTypes(['--a', '--kubelet-preferred-address-types', 'Hostname', '--b'])).toEqual(['--a', ADDRESS_TYPES_ARG, '--b']);
    expect(pinAddressTypes([ADDRESS_TYPES_ARG])).toBeUndefined();
    expect(JSON.parse(metricsServerArgsPatch('ms', ['--x']))).toEqual({ spec: { template: { spec: { containers: [{ name: 'ms', args: ['--x'] }] } } } });
  });
});

describe('boot unit', () => {
  it('loads the saved table before kubelet, after (and again with) nftables.service', () => {
    expect(renderCrossVpcUnit()).toMatchInlineSnapshot(`
      "# Written by knit: loads /etc/knit/crossvpc.nft (the cross-VPC address map) at boot.
      [Unit]
      Description=knit cross-VPC address map (peers' private IPs through their public IPs)
      Wants=network-online.target
      After=network-online.target nftables.service netfilter-persistent.service firewalld.service
      PartOf=nftables.service
      Before=kubelet.service

      [Service]
      Type=oneshot
      RemainAfterExit=yes
      # One atomic transaction that replaces the table, so loading it again is harmless.
      ExecStart=/usr/sbin/nft -f /etc/knit/crossvpc.nft

      [Install]
      WantedBy=multi-user.target
      "
    `);
  });
});

describe('planCrossVpcRemove', () => {
  it('removes only what exists', () => {
    const nat = parseLegacyNat(saved(['KNIT-CROSSVPC'], ['-A OUTPUT -j KNIT-CROSSVPC']));
    expect(formatPlan('knit crossvpc remove', planCrossVpcRemove({ table: true, legacy: { nat, rulesFile: true }, unitInstalled: true, agentInstalled: true }))).toMatchInlineSnapshot(`
      "knit crossvpc remove

      [1/4] crossvpc/map — Delete the nftables table ip knit
            apply one nft transaction to table ip knit (1 table deleted)
      [2/4] crossvpc/legacy — Remove what earlier knit versions used instead (iptables nat KNIT-CROSSVPC, KNIT-CROSSVPC-IN)
            apply one iptables-restore --noflush transaction (1 rule deleted, 1 chain deleted)
            remove /etc/knit/crossvpc.rules
      [3/4] crossvpc/boot — Disable knit-crossvpc.service and stop knit-crossvpc-agent.service
            run systemctl disable --now knit-crossvpc-agent.service
            run systemctl disable knit-crossvpc.service
      [4/4] crossvpc/persist — Remove the saved map, the boot unit and the agent
            remove /etc/systemd/system/knit-crossvpc.service
            remove /etc/knit/crossvpc.nft
            remove /etc/systemd/system/knit-crossvpc-agent.service
            remove /etc/knit/crossvpc-agent.json
            remove /run/knit/crossvpc-agent.json
      "
    `);
    const nothing = planCrossVpcRemove({ table: false, legacy: NO_LEGACY_FACTS, unitInstalled: false, agentInstalled: false });
    expect(nothing.map((s) => [s.id, s.effects.length])).toEqual([['crossvpc/map', 0], ['crossvpc/boot', 0], ['crossvpc/persist', 5]]); // file removals are no-ops when absent
  });
});
