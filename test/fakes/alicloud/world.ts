/**
 * What the Alibaba Cloud stand-in (server.ts) knows: one region's VPC, vSwitches, security groups and
 * their rules, NAT gateway and SNAT entries, route tables and their entries, ECS instances and instance types, the access keys it
 * accepts, and which instance the metadata service speaks for. Fields are named after the API's own (camelCase of the PascalCase wire names);
 * the server derives what the real services derive (a vSwitch's gateway, an SNAT entry's SourceCIDR).
 *
 * Addresses: RFC 1918 for private ones, TEST-NET-3 (203.0.113.0/24) for EIPs. Keys and secrets are
 * obviously fake.
 */

export interface AccessKey {
  accessKeyId: string;
  accessKeySecret: string;
  /** An STS key: every call must carry this token (x-acs-security-token). */
  securityToken?: string;
  /** When an STS key was issued and when it stops working (ISO 8601, UTC). */
  lastUpdated?: string;
  expiration?: string;
  /** The instance RAM role whose credentials these are: served by ram/security-credentials/<role>. */
  ramRole?: string;
  /** API actions the identity's RAM policy does not grant, e.g. 'DescribeInstanceTypes'. */
  deny?: string[];
  /** Who the key belongs to, as AccessDeniedDetail reports it. */
  principal: { type: 'SubUser' | 'AssumedRoleUser'; displayName: string };
}

export interface InstanceTypeSpec {
  instanceTypeId: string;
  instanceTypeFamily: string;
  instanceFamilyLevel: 'EnterpriseLevel' | 'CreditEntryLevel';
  cpuCoreCount: number;
  /** GiB. */
  memorySize: number;
  /** ENIs the type holds, the primary one included. */
  eniQuantity: number;
  /** Private IPv4 addresses per ENI, the ENI's primary address included. */
  eniPrivateIpAddressQuantity: number;
  /** ENIs including trunk members; absent where no published source gives it (the API then omits it). */
  eniTotalQuantity?: number;
  eniIpv6AddressQuantity?: number;
  eniTrunkSupported?: boolean;
}

export interface Vpc {
  vpcId: string;
  vpcName: string;
  cidrBlock: string;
}

export interface VSwitch {
  vSwitchId: string;
  vSwitchName: string;
  vpcId: string;
  zoneId: string;
  cidrBlock: string;
  availableIpAddressCount: number;
  status: 'Available' | 'Pending';
  creationTime: string;
}

/**
 * A security group rule. An inbound rule has one source: an IPv4 or IPv6 CIDR, another security group,
 * or a prefix list; an outbound rule a destination CIDR.
 */
export interface SecurityGroupRule {
  securityGroupRuleId: string;
  direction: 'ingress' | 'egress';
  /** As the API answers it: upper case. */
  ipProtocol: 'TCP' | 'UDP' | 'ICMP' | 'GRE' | 'ALL';
  /** `8472/8472`; `-1/-1` for ALL, ICMP and GRE. */
  portRange: string;
  source?: { cidr: string } | { ipv6Cidr: string } | { groupId: string } | { prefixListId: string };
  destCidr?: string;
  policy: 'Accept' | 'Drop';
  /** 1 (first) to 100. */
  priority: number;
  description: string;
  createTime: string;
}

export interface SecurityGroup {
  securityGroupId: string;
  securityGroupName: string;
  vpcId: string;
  description: string;
  /** A basic group's internal policy: Accept lets members reach each other over the private network. */
  innerAccessPolicy: 'Accept' | 'Drop';
  rules: SecurityGroupRule[];
}

export interface NetworkInterface {
  networkInterfaceId: string;
  macAddress: string;
  type: 'Primary' | 'Secondary';
  vSwitchId: string;
  /** The first is the ENI's primary address. */
  privateIpAddresses: string[];
}

export interface Instance {
  instanceId: string;
  instanceName: string;
  hostName: string;
  zoneId: string;
  instanceType: string;
  status: 'Running' | 'Stopped' | 'Starting' | 'Stopping' | 'Pending';
  vpcId: string;
  /** The primary ENI's vSwitch. */
  vSwitchId: string;
  securityGroupIds: string[];
  /** The EIP bound to the primary ENI. */
  eip?: { ipAddress: string; allocationId: string; bandwidth: number };
  /** The first is the primary ENI. */
  networkInterfaces: NetworkInterface[];
  ramRoleName?: string;
  creationTime: string;
}

export interface NatGateway {
  natGatewayId: string;
  name: string;
  vpcId: string;
  /** The vSwitch the gateway's own ENI sits in. */
  vSwitchId: string;
  natType: 'Enhanced';
  status: 'Available' | 'Creating' | 'Deleting';
  snatTableIds: string[];
  forwardTableIds: string[];
  eips: { ipAddress: string; allocationId: string }[];
  creationTime: string;
}

/** An SNAT rule covers its source either by vSwitch (SourceVSwitchId) or by a CIDR block (SourceCIDR). */
export interface SnatEntry {
  snatEntryId: string;
  snatEntryName: string;
  snatTableId: string;
  natGatewayId: string;
  snatIp: string;
  source: { vSwitchId: string } | { cidr: string };
  status: 'Available' | 'Pending' | 'Deleting';
}

/**
 * A route table of the VPC. The System table is the VPC's own and serves every vSwitch not bound to a
 * custom one; VSwitchIds lists the vSwitches bound to the table.
 */
export interface RouteTable {
  routeTableId: string;
  routeTableName: string;
  /** The VPC's vRouter. */
  routerId: string;
  vpcId: string;
  routeTableType: 'System' | 'Custom';
  vSwitchIds: string[];
  creationTime: string;
}

/**
 * One route. System routes (the VPC's own: each vSwitch's CIDR, 100.64.0.0/10) are answered with no
 * next hop; a custom route names its next hops (several for ECMP).
 */
export interface RouteEntry {
  routeEntryId: string;
  routeEntryName: string;
  routeTableId: string;
  destinationCidrBlock: string;
  type: 'System' | 'Custom' | 'BGP' | 'CEN';
  status: 'Pending' | 'Available' | 'Modifying';
  nextHops: { nextHopType: string; nextHopId: string }[];
  description: string;
}

export interface World {
  /** The one region this world's resources live in. */
  regionId: string;
  vpcs: Vpc[];
  vSwitches: VSwitch[];
  securityGroups: SecurityGroup[];
  instanceTypes: InstanceTypeSpec[];
  instances: Instance[];
  natGateways: NatGateway[];
  snatEntries: SnatEntry[];
  routeTables: RouteTable[];
  routeEntries: RouteEntry[];
  accessKeys: AccessKey[];
  /** The metadata service answers as this instance; `requireToken` is hardened mode (IMDSv2-style). */
  metadata: { instanceId: string; requireToken: boolean };
}

/**
 * Real instance types with their published numbers. Where a real DescribeInstanceTypes answer was found,
 * every number is from it; otherwise ENIs and IPs per ENI are from Alibaba Cloud's instance family tables
 * and the fields those tables lack (EniTotalQuantity, EniIpv6AddressQuantity) are left out.
 */
export const REAL_INSTANCE_TYPES: readonly InstanceTypeSpec[] = [
  // Instance family table, g7 ("ENIs 3, Private IP addresses per ENI 6"):
  // AlibabaCloudDocs/ecs intl.en-US/Instance/Instance families.md
  { instanceTypeId: 'ecs.g7.large', instanceTypeFamily: 'ecs.g7', instanceFamilyLevel: 'EnterpriseLevel', cpuCoreCount: 2, memorySize: 8, eniQuantity: 3, eniPrivateIpAddressQuantity: 6 },
  // A recorded DescribeInstanceTypes answer (RequestId 857255BA-…): EniQuantity 4, EniPrivateIpAddressQuantity 15,
  // EniTotalQuantity 20, EniIpv6AddressQuantity 15, EniTrunkSupported true; the g7 table agrees on 4 / 15.
  // kubernetes-sigs/alibaba-cloud-csi-driver pkg/cloud/metadata/ecs_instance_type_test.go
  { instanceTypeId: 'ecs.g7.xlarge', instanceTypeFamily: 'ecs.g7', instanceFamilyLevel: 'EnterpriseLevel', cpuCoreCount: 4, memorySize: 16, eniQuantity: 4, eniPrivateIpAddressQuantity: 15, eniTotalQuantity: 20, eniIpv6AddressQuantity: 15, eniTrunkSupported: true },
  // Instance family table, c7 ("ENIs 4, Private IP addresses per ENI 15"): same file as g7.
  { instanceTypeId: 'ecs.c7.2xlarge', instanceTypeFamily: 'ecs.c7', instanceFamilyLevel: 'EnterpriseLevel', cpuCoreCount: 8, memorySize: 16, eniQuantity: 4, eniPrivateIpAddressQuantity: 15 },
  // The DescribeInstanceTypes API reference's example answer: EniQuantity 2, EniPrivateIpAddressQuantity 6,
  // EniTotalQuantity 2, EniIpv6AddressQuantity 1, EniTrunkSupported false (the g6 table agrees on 2 / 6).
  // AlibabaCloudDocs/ecs cn.zh-CN/API参考/实例/DescribeInstanceTypes.md
  { instanceTypeId: 'ecs.g6.large', instanceTypeFamily: 'ecs.g6', instanceFamilyLevel: 'EnterpriseLevel', cpuCoreCount: 2, memorySize: 8, eniQuantity: 2, eniPrivateIpAddressQuantity: 6, eniTotalQuantity: 2, eniIpv6AddressQuantity: 1, eniTrunkSupported: false },
  // Burstable t6 table ("ENIs (including one primary ENI) 2, Private IP addresses per ENI 2"):
  // AlibabaCloudDocs/ecs docs (mirror SkyeYXL/ecs) intl.en-US/Instance/Instance type families/Burstable performance instances/Overview.md
  { instanceTypeId: 'ecs.t6-c1m1.large', instanceTypeFamily: 'ecs.t6', instanceFamilyLevel: 'CreditEntryLevel', cpuCoreCount: 2, memorySize: 2, eniQuantity: 2, eniPrivateIpAddressQuantity: 2 },
  // Burstable t5 table, same file: 2 ENIs (primary included), 2 IPs per ENI. An older reseller edition of the
  // table listed 1 ENI for this type; the current one (with the IPv6 column) says 2.
  { instanceTypeId: 'ecs.t5-lc1m1.small', instanceTypeFamily: 'ecs.t5', instanceFamilyLevel: 'CreditEntryLevel', cpuCoreCount: 1, memorySize: 1, eniQuantity: 2, eniPrivateIpAddressQuantity: 2 },
  // A recorded DescribeInstanceTypes answer (RequestId F4FCC80A-…): EniQuantity 3, EniPrivateIpAddressQuantity 10,
  // EniTotalQuantity 6, EniIpv6AddressQuantity 1, EniTrunkSupported true.
  // kubernetes-sigs/alibaba-cloud-csi-driver pkg/disk/utils_test.go
  { instanceTypeId: 'ecs.u1-c1m4.xlarge', instanceTypeFamily: 'ecs.u1', instanceFamilyLevel: 'EnterpriseLevel', cpuCoreCount: 4, memorySize: 16, eniQuantity: 3, eniPrivateIpAddressQuantity: 10, eniTotalQuantity: 6, eniIpv6AddressQuantity: 1, eniTrunkSupported: true },
];

/** ISO 8601 without milliseconds, the way the metadata service and the APIs write times. */
export const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export const KEYS = {
  full: { id: 'LTAI5tKnitTestFullAccess', secret: 'kN1tT3stS3cr3tFu11Acc3ssD0N0tUse' },
  /** A RAM user without ecs:DescribeInstanceTypes and vpc:DescribeSnatTableEntries. */
  limited: { id: 'LTAI5tKnitTestLimitedRam', secret: 'kN1tT3stS3cr3tL1m1t3dD0N0tUse000' },
  /** The instance RAM role's STS credentials (served by the metadata service). */
  role: { id: 'STS.NTKnitTestRoleSession01', secret: 'kN1tT3stSt5S3cr3tR0l3D0N0tUse00', token: 'CAISknit-test-sts-security-token-do-not-use' },
} as const;

export const IDS = {
  vpc: 'vpc-bp1knittest00000vpc01',
  nodeVSwitchH: 'vsw-bp1knitnode0000000h01',
  nodeVSwitchI: 'vsw-bp1knitnode0000000i01',
  /** Covered by SNAT through SourceVSwitchId. */
  podVSwitchH: 'vsw-bp1knitpod00000000h01',
  /** Covered by SNAT through a SourceCIDR (192.168.64.0/18) that contains it. */
  podVSwitchI: 'vsw-bp1knitpod00000000i01',
  /** Covered by no SNAT entry. */
  podVSwitchUncovered: 'vsw-bp1knitpod00000000i02',
  /** Opens SSH and, the trap, flannel's VXLAN port 8472/udp to 0.0.0.0/0. */
  nodesSecurityGroup: 'sg-bp1knitnodes0000000001',
  podsSecurityGroup: 'sg-bp1knitpods00000000001',
  /** The overlay's own rules: 8472/udp from one peer's EIP (198.51.100.20/32). */
  overlaySecurityGroup: 'sg-bp1knitoverlay00000001',
  sshRule: 'sgr-bp1knitssh00000000001',
  vxlanWorldRule: 'sgr-bp1knitvxlanworld0001',
  vxlanPeerRule: 'sgr-bp1knitvxlanpeer00001',
  egressRule: 'sgr-bp1knitegress00000001',
  natGateway: 'ngw-bp1knittest000000ngw01',
  snatTable: 'stb-bp1knittest000000stb01',
  forwardTable: 'ftb-bp1knittest000000ftb01',
  /** The instance the metadata service speaks for: has an EIP and a RAM role. */
  master: 'i-bp1knitmaster0000000001',
  /** No EIP; a secondary (Terway) ENI in the pod vSwitch of its zone. */
  worker: 'i-bp1knitworker0000000001',
  ramRole: 'KnitTerwayRole',
  router: 'vrt-bp1knittest000000vrt01',
  /** The VPC's System route table: serves every vSwitch. */
  systemRouteTable: 'vtb-bp1knittest00000sys01',
  /** What a hybrid world routes the external pods to (none in the default world). */
  vpnGateway: 'vpn-bp1knittest000000vpn01',
} as const;

/** The default world: one VPC in cn-hangzhou over zones h and i, Terway-style node and pod vSwitches. */
export function defaultWorld(now: Date = new Date()): World {
  const created = '2024-05-20T08:00:00Z';
  const vSwitch = (vSwitchId: string, vSwitchName: string, zoneId: string, cidrBlock: string, availableIpAddressCount: number): VSwitch => ({
    vSwitchId, vSwitchName, vpcId: IDS.vpc, zoneId, cidrBlock, availableIpAddressCount, status: 'Available', creationTime: created,
  });
  return {
    regionId: 'cn-hangzhou',
    vpcs: [{ vpcId: IDS.vpc, vpcName: 'knit-test', cidrBlock: '192.168.0.0/16' }],
    vSwitches: [
      // a /24 holds 252 usable addresses (the first and last three are reserved); a /19 holds 8188
      vSwitch(IDS.nodeVSwitchH, 'knit-nodes-h', 'cn-hangzhou-h', '192.168.0.0/24', 246),
      vSwitch(IDS.nodeVSwitchI, 'knit-nodes-i', 'cn-hangzhou-i', '192.168.1.0/24', 249),
      vSwitch(IDS.podVSwitchH, 'knit-pods-h', 'cn-hangzhou-h', '192.168.32.0/19', 8140),
      vSwitch(IDS.podVSwitchI, 'knit-pods-i', 'cn-hangzhou-i', '192.168.64.0/19', 8172),
      vSwitch(IDS.podVSwitchUncovered, 'knit-pods-i-extra', 'cn-hangzhou-i', '192.168.128.0/20', 4092),
    ],
    securityGroups: [
      {
        securityGroupId: IDS.nodesSecurityGroup,
        securityGroupName: 'knit-nodes',
        vpcId: IDS.vpc,
        description: 'cluster nodes',
        innerAccessPolicy: 'Accept',
        rules: [
          { securityGroupRuleId: IDS.sshRule, direction: 'ingress', ipProtocol: 'TCP', portRange: '22/22', source: { cidr: '0.0.0.0/0' }, policy: 'Accept', priority: 1, description: 'ssh', createTime: '2024-05-20T08:06:00Z' },
          { securityGroupRuleId: IDS.vxlanWorldRule, direction: 'ingress', ipProtocol: 'UDP', portRange: '8472/8472', source: { cidr: '0.0.0.0/0' }, policy: 'Accept', priority: 1, description: 'flannel vxlan', createTime: '2024-05-20T08:06:10Z' },
          { securityGroupRuleId: IDS.egressRule, direction: 'egress', ipProtocol: 'ALL', portRange: '-1/-1', destCidr: '0.0.0.0/0', policy: 'Accept', priority: 1, description: '', createTime: '2024-05-20T08:06:20Z' },
        ],
      },
      { securityGroupId: IDS.podsSecurityGroup, securityGroupName: 'knit-pods', vpcId: IDS.vpc, description: 'Terway pod ENIs', innerAccessPolicy: 'Accept', rules: [] },
      {
        securityGroupId: IDS.overlaySecurityGroup,
        securityGroupName: 'knit-overlay',
        vpcId: IDS.vpc,
        description: 'the overlay from peers in other VPCs',
        innerAccessPolicy: 'Accept',
        rules: [
          { securityGroupRuleId: IDS.vxlanPeerRule, direction: 'ingress', ipProtocol: 'UDP', portRange: '8472/8472', source: { cidr: '198.51.100.20/32' }, policy: 'Accept', priority: 1, description: 'vxlan from worker-1', createTime: '2024-05-20T08:07:00Z' },
        ],
      },
    ],
    instanceTypes: REAL_INSTANCE_TYPES.map((t) => ({ ...t })),
    instances: [
      {
        instanceId: IDS.master,
        instanceName: 'knit-master-1',
        hostName: 'knit-master-1',
        zoneId: 'cn-hangzhou-h',
        instanceType: 'ecs.g7.xlarge',
        status: 'Running',
        vpcId: IDS.vpc,
        vSwitchId: IDS.nodeVSwitchH,
        securityGroupIds: [IDS.nodesSecurityGroup, IDS.overlaySecurityGroup],
        eip: { ipAddress: '203.0.113.20', allocationId: 'eip-bp1knitmaster00000001', bandwidth: 100 },
        networkInterfaces: [
          { networkInterfaceId: 'eni-bp1knitmaster00000001', macAddress: '00:16:3e:0a:00:0a', type: 'Primary', vSwitchId: IDS.nodeVSwitchH, privateIpAddresses: ['192.168.0.10'] },
        ],
        ramRoleName: IDS.ramRole,
        creationTime: '2024-05-20T08:10Z',
      },
      {
        instanceId: IDS.worker,
        instanceName: 'knit-worker-1',
        hostName: 'knit-worker-1',
        zoneId: 'cn-hangzhou-i',
        instanceType: 'ecs.c7.2xlarge',
        status: 'Running',
        vpcId: IDS.vpc,
        vSwitchId: IDS.nodeVSwitchI,
        securityGroupIds: [IDS.nodesSecurityGroup, IDS.podsSecurityGroup],
        networkInterfaces: [
          { networkInterfaceId: 'eni-bp1knitworker00000001', macAddress: '00:16:3e:0a:01:14', type: 'Primary', vSwitchId: IDS.nodeVSwitchI, privateIpAddresses: ['192.168.1.20'] },
          { networkInterfaceId: 'eni-bp1knitworker00000002', macAddress: '00:16:3e:0a:40:05', type: 'Secondary', vSwitchId: IDS.podVSwitchI, privateIpAddresses: ['192.168.64.5', '192.168.64.6', '192.168.64.7'] },
        ],
        creationTime: '2024-05-20T08:12Z',
      },
    ],
    natGateways: [
      {
        natGatewayId: IDS.natGateway,
        name: 'knit-nat',
        vpcId: IDS.vpc,
        vSwitchId: IDS.nodeVSwitchH,
        natType: 'Enhanced',
        status: 'Available',
        snatTableIds: [IDS.snatTable],
        forwardTableIds: [IDS.forwardTable],
        eips: [{ ipAddress: '203.0.113.10', allocationId: 'eip-bp1knitnat0000000001' }],
        creationTime: '2024-05-20T08:05:00Z',
      },
    ],
    snatEntries: [
      { snatEntryId: 'snat-bp1knitnodeh00000001', snatEntryName: 'nodes-h', snatTableId: IDS.snatTable, natGatewayId: IDS.natGateway, snatIp: '203.0.113.10', source: { vSwitchId: IDS.nodeVSwitchH }, status: 'Available' },
      { snatEntryId: 'snat-bp1knitnodei00000001', snatEntryName: 'nodes-i', snatTableId: IDS.snatTable, natGatewayId: IDS.natGateway, snatIp: '203.0.113.10', source: { vSwitchId: IDS.nodeVSwitchI }, status: 'Available' },
      { snatEntryId: 'snat-bp1knitpodh000000001', snatEntryName: 'pods-h', snatTableId: IDS.snatTable, natGatewayId: IDS.natGateway, snatIp: '203.0.113.10', source: { vSwitchId: IDS.podVSwitchH }, status: 'Available' },
      { snatEntryId: 'snat-bp1knitpodcidr0000001', snatEntryName: 'pods-64-18', snatTableId: IDS.snatTable, natGatewayId: IDS.natGateway, snatIp: '203.0.113.10', source: { cidr: '192.168.64.0/18' }, status: 'Available' },
    ],
    routeTables: [
      {
        routeTableId: IDS.systemRouteTable,
        routeTableName: '',
        routerId: IDS.router,
        vpcId: IDS.vpc,
        routeTableType: 'System',
        vSwitchIds: [IDS.nodeVSwitchH, IDS.nodeVSwitchI, IDS.podVSwitchH, IDS.podVSwitchI, IDS.podVSwitchUncovered],
        creationTime: '2024-05-20T08:00:00Z',
      },
    ],
    routeEntries: [
      // the VPC's own routes: one per vSwitch CIDR, and 100.64.0.0/10 for cloud services
      ...[
        ['100.64.0.0/10', 'rte-bp1knitsys0000000svc1'],
        ['192.168.0.0/24', 'rte-bp1knitsys00000000h01'],
        ['192.168.1.0/24', 'rte-bp1knitsys00000000i01'],
        ['192.168.32.0/19', 'rte-bp1knitsys000000podh1'],
        ['192.168.64.0/19', 'rte-bp1knitsys000000podi1'],
        ['192.168.128.0/20', 'rte-bp1knitsys000000podi2'],
      ].map(([cidr, id]): RouteEntry => ({
        routeEntryId: id!, routeEntryName: '', routeTableId: IDS.systemRouteTable, destinationCidrBlock: cidr!, type: 'System', status: 'Available', nextHops: [], description: '',
      })),
      // an Enhanced NAT gateway serves SNAT through a default route to it
      { routeEntryId: 'rte-bp1knitnat00000000001', routeEntryName: 'to-nat', routeTableId: IDS.systemRouteTable, destinationCidrBlock: '0.0.0.0/0', type: 'Custom', status: 'Available', nextHops: [{ nextHopType: 'NatGateway', nextHopId: IDS.natGateway }], description: '' },
    ],
    accessKeys: [
      { accessKeyId: KEYS.full.id, accessKeySecret: KEYS.full.secret, principal: { type: 'SubUser', displayName: 'knit-admin' } },
      {
        accessKeyId: KEYS.limited.id,
        accessKeySecret: KEYS.limited.secret,
        deny: ['DescribeInstanceTypes', 'DescribeSnatTableEntries'],
        principal: { type: 'SubUser', displayName: 'knit-limited' },
      },
      {
        accessKeyId: KEYS.role.id,
        accessKeySecret: KEYS.role.secret,
        securityToken: KEYS.role.token,
        // the metadata service hands out credentials valid for about six hours
        lastUpdated: isoSeconds(now),
        expiration: isoSeconds(new Date(now.getTime() + 6 * 3600_000)),
        ramRole: IDS.ramRole,
        principal: { type: 'AssumedRoleUser', displayName: `${IDS.ramRole}:${IDS.master}` },
      },
    ],
    metadata: { instanceId: IDS.master, requireToken: false },
  };
}
