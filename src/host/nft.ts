/** The nftables adapter: reads knit's table (the cross-VPC address map) from the kernel. */
import { CROSSVPC } from '../defaults.js';
import { parseNftTable, type NftTableState } from '../crossvpc/nft.js';
import { CommandNotFoundError, type Exec } from './exec.js';

export const NFT_INSTALL_HINT = 'install nftables (apt-get install nftables, or dnf/yum install nftables)';

/** knit's table as the kernel has it; undefined when there is none. */
export async function readKnitTable(exec: Exec): Promise<NftTableState | undefined> {
  const r = await exec(['nft', '-j', 'list', 'table', CROSSVPC.nftFamily, CROSSVPC.nftTable]).catch((e: unknown) => {
    throw e instanceof CommandNotFoundError ? new CommandNotFoundError(`nft: command not found; ${NFT_INSTALL_HINT}`) : e;
  });
  if (r.exitCode === 0) return parseNftTable(r.stdout);
  if (/No such file or directory/.test(r.stderr)) return undefined;
  throw new Error(`nft -j list table ${CROSSVPC.nftFamily} ${CROSSVPC.nftTable} failed: ${r.stderr.trim().split('\n')[0]}`);
}
