/** nftables for knit's cross-VPC address map: the `nft` tool (the nf_tables module is a module check). */
import { MIN_NFT_VERSION } from './requirements.js';
import { fail, pass } from './result.js';
import type { CheckResult, Fix, HostFacts, PreflightTarget } from './types.js';

const DEBIAN_LIKE = ['debian', 'ubuntu'];
const DNF_LIKE = ['centos', 'rhel', 'rocky', 'almalinux', 'alinux', 'anolis', 'fedora', 'ol', 'opencloudos'];

/** The package manager's install of nftables for this distribution; undefined when knit does not know it. */
function installNftables(f: HostFacts): Fix | undefined {
  const id = f.os?.id ?? '';
  const argv: [string, ...string[]] | undefined = DEBIAN_LIKE.includes(id)
    ? ['apt-get', 'install', '-y', 'nftables']
    : DNF_LIKE.includes(id)
      ? ['dnf', 'install', '-y', 'nftables']
      : undefined;
  return argv && { title: 'Install nftables', effects: [{ kind: 'exec', argv }] };
}

export function nftablesCheck(f: HostFacts, t: PreflightTarget): CheckResult[] {
  if (!t.crossVpc) return [];
  const id = 'crossvpc/nft';
  const want = `${MIN_NFT_VERSION.major}.${MIN_NFT_VERSION.minor}`;
  const [major = 0, minor = 0] = (f.nftVersion ?? '').split('.').map(Number);
  if (f.nftVersion && (major > MIN_NFT_VERSION.major || (major === MIN_NFT_VERSION.major && minor >= MIN_NFT_VERSION.minor)))
    return [pass(id, `nft ${f.nftVersion} (knit's cross-VPC address map needs ${want} or later)`)];
  const fix = installNftables(f);
  const how = fix ? fix.effects.map((e) => (e.kind === 'exec' ? e.argv.join(' ') : '')).join('') : 'install nftables with the package manager';
  const found = f.nftVersion ? `nft ${f.nftVersion} is older than ${want}` : 'nft is not installed';
  return [fail(id, `${found}; this node has peers in other VPCs and knit maps their addresses in nftables: ${how}`, fix)];
}
