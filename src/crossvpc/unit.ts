/** The systemd unit that re-applies the saved cross-VPC rules at boot, before kubelet starts. */
import { CROSSVPC } from '../defaults.js';
import { JUMPS, NAT_TABLE } from './chains.js';

export type IptablesBackendName = 'nft' | 'legacy';

/** Older systemd (CentOS 7's 219) wants absolute paths in Exec lines. */
const SBIN = '/usr/sbin';

export function renderCrossVpcUnit(backend: IptablesBackendName): string {
  const iptables = `${SBIN}/iptables-${backend}`;
  return [
    `# Written by knit: re-applies ${CROSSVPC.rulesFile} (cross-VPC NAT) at boot.`,
    '[Unit]',
    "Description=knit cross-VPC NAT rules (peers' private IPs through their public IPs)",
    'Wants=network-online.target',
    // after anything that restores or flushes a firewall snapshot, so that ours is applied last
    'After=network-online.target netfilter-persistent.service nftables.service firewalld.service',
    'Before=kubelet.service',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    '# Delete the jumps a previous start (or a restored snapshot) left, so that the restore adds no second',
    '# copy; "-" tolerates their absence, as at boot. Declaring the chains in the file flushes or creates them.',
    ...JUMPS.map((j) => `ExecStartPre=-${iptables} -t ${NAT_TABLE} -D ${j.from} -j ${j.to}`),
    `ExecStart=${iptables}-restore --noflush ${CROSSVPC.rulesFile}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
