/** The systemd unit that loads the saved cross-VPC address map at boot, before kubelet starts. */
import { CROSSVPC } from '../defaults.js';

/** Older systemd (CentOS 7's 219) wants absolute paths in Exec lines. */
const NFT = '/usr/sbin/nft';

export function renderCrossVpcUnit(): string {
  return [
    `# Written by knit: loads ${CROSSVPC.rulesFile} (the cross-VPC address map) at boot.`,
    '[Unit]',
    "Description=knit cross-VPC address map (peers' private IPs through their public IPs)",
    'Wants=network-online.target',
    // after anything that loads a firewall snapshot (nftables.service starts with `flush ruleset`), and
    // again whenever nftables.service is restarted, since that flush removes knit's table too
    'After=network-online.target nftables.service netfilter-persistent.service firewalld.service',
    'PartOf=nftables.service',
    'Before=kubelet.service',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    '# One atomic transaction that replaces the table, so loading it again is harmless.',
    `ExecStart=${NFT} -f ${CROSSVPC.rulesFile}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The agent's unit: a long-running watch, restarted whatever happens to it, started before kubelet. */
export function renderAgentUnit(knitCommand: readonly string[]): string {
  return [
    `# Written by knit: keeps ${CROSSVPC.rulesFile} and the live map equal to the cluster's Nodes.`,
    '[Unit]',
    "Description=knit cross-VPC agent (the address map follows the cluster's Nodes)",
    'Wants=network-online.target',
    `After=network-online.target ${CROSSVPC.unitName}`,
    'Before=kubelet.service',
    '',
    '[Service]',
    `Environment=NODE_OPTIONS=${CROSSVPC.agent.nodeOptions}`,
    `ExecStart=${[...knitCommand, 'crossvpc', 'agent'].join(' ')}`,
    'Restart=always',
    'RestartSec=5',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
