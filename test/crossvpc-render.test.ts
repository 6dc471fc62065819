/** The pure half of cross-VPC networking: peer selection, the iptables payloads, the unit and the plans. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JUMPS, jumpRule } from '../src/crossvpc/chains.js';
import { checkCniAcrossVpcs } from '../src/crossvpc/cni-support.js';
import { ADDRESS_TYPES_ARG, metricsServerArgsPatch, pinAddressTypes } from '../src/crossvpc/metrics-server.js';
import { peersOutsideVpc, sameVpc } from '../src/crossvpc/peers.js';
import { planCrossVpcApply, planCrossVpcRemove, type CrossVpcFacts } from '../src/crossvpc/plan.js';
import { crossVpcRuleSet, renderCrossVpcRules } from '../src/crossvpc/rules.js';
import { NO_STATE, diffCrossVpcState, parseCrossVpcState, reconcileJumps, renderCrossVpcRemoval } from '../src/crossvpc/state.js';
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
const facts: CrossVpcFacts = { backend: 'nft', state: NO_STATE };

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

describe('renderCrossVpcRules', () => {
  it('renders the boot payload: chains, one DNAT and one SNAT per peer, every jump', () => {
    expect(renderCrossVpcRules(twoVpcs, 'master')).toMatchInlineSnapshot(`
      "# knit cross-vpc rules for master (private 172.16.1.10, public 203.0.113.10)
      # Peers outside its VPC are reached at their private IPs through their public IPs (1:1 NAT).
      # Applied at boot by knit-crossvpc.service: iptables-restore --noflush /etc/knit/crossvpc.rules
      *nat
      :KNIT-CROSSVPC - [0:0]
      :KNIT-CROSSVPC-IN - [0:0]
      # worker: 172.16.2.20 <-> 203.0.113.20
      -A KNIT-CROSSVPC -d 172.16.2.20/32 -j DNAT --to-destination 203.0.113.20
      -A KNIT-CROSSVPC-IN -s 203.0.113.20/32 -j SNAT --to-source 172.16.2.20
      -A OUTPUT -j KNIT-CROSSVPC
      -A PREROUTING -j KNIT-CROSSVPC
      -A INPUT -j KNIT-CROSSVPC-IN
      COMMIT
      "
    `);
  });

  it('against a table that already has the jumps, adds none (re-apply only refills the chains)', () => {
    const live = parseCrossVpcState(saved(['KNIT-CROSSVPC', 'KNIT-CROSSVPC-IN'], JUMPS.map(jumpRule)));
    const payload = renderCrossVpcRules(twoVpcs, 'master', live);
    expect(payload).toContain(':KNIT-CROSSVPC - [0:0]');
    expect(payload).not.toMatch(/^-[AD] (OUTPUT|PREROUTING|INPUT) /m);
  });

  it('renders no rules for a node whose peers are all in its VPC', () => {
    const s = spec([master, { ...worker, vpc: 'vpc-a' }]);
    expect(renderCrossVpcRules(s, 'master')).toBe(
      '# knit cross-vpc rules for master (private 172.16.1.10, public 203.0.113.10)\n# No peers outside its VPC: no rules.\n' +
        '# Applied at boot by knit-crossvpc.service: iptables-restore --noflush /etc/knit/crossvpc.rules\n*nat\nCOMMIT\n',
    );
  });
});

describe('live state', () => {
  const table = saved(
    ['KNIT-CROSSVPC', 'KNIT-CROSSVPC-IN', 'KUBE-SERVICES'],
    [
      '-A PREROUTING -j KUBE-SERVICES',
      '-A PREROUTING -j KNIT-CROSSVPC',
      '-A OUTPUT -j KNIT-CROSSVPC',
      '-A OUTPUT -j KNIT-CROSSVPC',
      '-A OUTPUT -m comment --comment "old" -g KNIT-CROSSVPC',
      '-A KNIT-CROSSVPC -d 172.16.2.20/32 -j DNAT --to-destination 203.0.113.20',
    ],
  );
  const live = parseCrossVpcState(table);

  it('parses knit chains, their rules and every jump into them (and nothing else)', () => {
    expect(live).toEqual({
      chains: { 'KNIT-CROSSVPC': ['-A KNIT-CROSSVPC -d 172.16.2.20/32 -j DNAT --to-destination 203.0.113.20'], 'KNIT-CROSSVPC-IN': [] },
      jumps: ['-A PREROUTING -j KNIT-CROSSVPC', '-A OUTPUT -j KNIT-CROSSVPC', '-A OUTPUT -j KNIT-CROSSVPC', '-A OUTPUT -m comment --comment "old" -g KNIT-CROSSVPC'],
    });
  });

  it('reconciles jumps: deletes duplicates and foreign ones, adds the missing', () => {
    expect(reconcileJumps(JUMPS.map(jumpRule), live.jumps)).toEqual([
      '-D OUTPUT -j KNIT-CROSSVPC',
      '-D OUTPUT -m comment --comment "old" -g KNIT-CROSSVPC',
      '-A INPUT -j KNIT-CROSSVPC-IN',
    ]);
  });

  it('reconciling any live jumps leaves exactly the wanted ones', () => {
    const wanted = JUMPS.map(jumpRule);
    const anyJump = fc.constantFrom(...wanted, '-A OUTPUT -m comment --comment x -j KNIT-CROSSVPC');
    fc.assert(
      fc.property(fc.array(anyJump, { maxLength: 8 }), (liveJumps) => {
        const after = [...liveJumps];
        for (const line of reconcileJumps(wanted, liveJumps)) {
          const rule = line.replace(/^-[AD] /, '-A ');
          if (line.startsWith('-D ')) after.splice(after.indexOf(rule), 1); // restore fails if absent
          else after.push(rule);
        }
        expect(after.sort()).toEqual([...wanted].sort());
        expect(after.every((r) => liveJumps.includes(r) || wanted.includes(r))).toBe(true);
      }),
    );
  });

  it('removes jumps first, then flushes and deletes the chains, in one transaction', () => {
    expect(renderCrossVpcRemoval(live)).toBe(
      [
        '# knit: remove the cross-vpc chains and the jumps into them',
        '*nat',
        '-D PREROUTING -j KNIT-CROSSVPC',
        '-D OUTPUT -j KNIT-CROSSVPC',
        '-D OUTPUT -j KNIT-CROSSVPC',
        '-D OUTPUT -m comment --comment "old" -g KNIT-CROSSVPC',
        '-F KNIT-CROSSVPC',
        '-F KNIT-CROSSVPC-IN',
        '-X KNIT-CROSSVPC',
        '-X KNIT-CROSSVPC-IN',
        'COMMIT',
        '',
      ].join('\n'),
    );
    expect(renderCrossVpcRemoval(NO_STATE)).toBeUndefined();
  });

  it('reports drift as missing and unexpected lines', () => {
    const wanted = crossVpcRuleSet(peersOutsideVpc(twoVpcs, 'master'));
    expect(diffCrossVpcState(wanted, live)).toEqual({
      missing: ['-A KNIT-CROSSVPC-IN -s 203.0.113.20/32 -j SNAT --to-source 172.16.2.20', '-A INPUT -j KNIT-CROSSVPC-IN'],
      unexpected: ['-A OUTPUT -j KNIT-CROSSVPC', '-A OUTPUT -m comment --comment "old" -g KNIT-CROSSVPC'],
    });
    expect(diffCrossVpcState(wanted, NO_STATE).missing).toHaveLength(2 + 2 + 3);
    expect(diffCrossVpcState(crossVpcRuleSet([]), NO_STATE)).toEqual({ missing: [], unexpected: [] });
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
  it('plans nat, persist, boot and (flannel) annotate; the dry-run text says what each does', () => {
    expect(formatPlan('knit crossvpc apply', planCrossVpcApply(twoVpcs, 'master', facts))).toMatchInlineSnapshot(`
      "knit crossvpc apply

      [1/4] crossvpc/nat — Reach 1 peer(s) outside the VPC through their public IPs (nat KNIT-CROSSVPC, KNIT-CROSSVPC-IN)
            apply one iptables-restore --noflush transaction (5 rules)
            note: peers: worker (172.16.2.20 → 203.0.113.20)
      [2/4] crossvpc/persist — Save the rules and the unit that re-applies them at boot
            write /etc/knit/crossvpc.rules (597 bytes, mode 0644)
            write /etc/systemd/system/knit-crossvpc.service (899 bytes, mode 0644)
      [3/4] crossvpc/boot — Enable knit-crossvpc.service
            already done when \`systemctl is-enabled --quiet knit-crossvpc.service\` succeeds
            run systemctl daemon-reload
            run systemctl enable knit-crossvpc.service
      [4/4] crossvpc/annotate — Tell flannel to give peers master's public IP
            annotate node master flannel.alpha.coreos.com/public-ip-overwrite=203.0.113.10
            note: needs the node registered (after kubeadm init/join); flannel reads it when its pod on this node starts
      "
    `);
  });

  it('saves the boot payload while the live transaction only reconciles the jumps', () => {
    const live = parseCrossVpcState(saved(['KNIT-CROSSVPC', 'KNIT-CROSSVPC-IN'], JUMPS.map(jumpRule)));
    const [nat, persist] = planCrossVpcApply(twoVpcs, 'worker', { ...facts, state: live });
    expect(nat!.effects).toEqual([{ kind: 'iptables', payload: renderCrossVpcRules(twoVpcs, 'worker', live) }]);
    expect(persist!.effects[0]).toMatchObject({ kind: 'file', content: renderCrossVpcRules(twoVpcs, 'worker') });
  });

  it('has no annotate step for calico vxlan', () => {
    const ids = planCrossVpcApply(spec([master, worker], { plugin: 'calico', calico: { mode: 'vxlan' } }), 'master', facts).map((s) => s.id);
    expect(ids).toEqual(['crossvpc/nat', 'crossvpc/persist', 'crossvpc/boot']);
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
  it('runs before kubelet, deletes stale jumps (tolerating absence), then restores the saved file', () => {
    expect(renderCrossVpcUnit('legacy')).toMatchInlineSnapshot(`
      "# Written by knit: re-applies /etc/knit/crossvpc.rules (cross-VPC NAT) at boot.
      [Unit]
      Description=knit cross-VPC NAT rules (peers' private IPs through their public IPs)
      Wants=network-online.target
      After=network-online.target netfilter-persistent.service nftables.service firewalld.service
      Before=kubelet.service

      [Service]
      Type=oneshot
      RemainAfterExit=yes
      # Delete the jumps a previous start (or a restored snapshot) left, so that the restore adds no second
      # copy; "-" tolerates their absence, as at boot. Declaring the chains in the file flushes or creates them.
      ExecStartPre=-/usr/sbin/iptables-legacy -t nat -D OUTPUT -j KNIT-CROSSVPC
      ExecStartPre=-/usr/sbin/iptables-legacy -t nat -D PREROUTING -j KNIT-CROSSVPC
      ExecStartPre=-/usr/sbin/iptables-legacy -t nat -D INPUT -j KNIT-CROSSVPC-IN
      ExecStart=/usr/sbin/iptables-legacy-restore --noflush /etc/knit/crossvpc.rules

      [Install]
      WantedBy=multi-user.target
      "
    `);
  });
});

describe('planCrossVpcRemove', () => {
  it('removes only what exists', () => {
    const live = parseCrossVpcState(saved(['KNIT-CROSSVPC'], ['-A OUTPUT -j KNIT-CROSSVPC']));
    expect(formatPlan('knit crossvpc remove', planCrossVpcRemove({ state: live, unitInstalled: true }))).toMatchInlineSnapshot(`
      "knit crossvpc remove

      [1/3] crossvpc/nat — Delete the nat chains KNIT-CROSSVPC, KNIT-CROSSVPC-IN and the jumps into them
            apply one iptables-restore --noflush transaction (1 rule deleted, 1 chain deleted)
      [2/3] crossvpc/boot — Disable knit-crossvpc.service
            run systemctl disable knit-crossvpc.service
      [3/3] crossvpc/persist — Remove the saved rules and the boot unit
            remove /etc/systemd/system/knit-crossvpc.service
            remove /etc/knit/crossvpc.rules
      "
    `);
    const nothing = planCrossVpcRemove({ state: NO_STATE, unitInstalled: false });
    expect(nothing.map((s) => s.effects.length)).toEqual([0, 0, 2]); // file removals are no-ops when absent
  });
});
