import type { HandoverConfigInput } from "../../appservice/src/config/schema.js";
import type { TrustInfo } from "../harness/stack.js";

/** The federation section for one trust, pointing at the other trust's Handover on loopback. */
export function federationConfig(
  trust: TrustInfo,
  peer: TrustInfo,
  peerWebPort: number,
  odsCode: string,
  overrides: Partial<NonNullable<HandoverConfigInput["federation"]>> = {},
): NonNullable<HandoverConfigInput["federation"]> {
  return {
    organisation: { name: `Trust ${trust.key.toUpperCase()} NHS Foundation Trust`, odsCode, contact: `federation@trust-${trust.key}.test` },
    keyEncryptionSecret: `test-secret-for-trust-${trust.key}-signing-key`,
    // trust-c is the stranger of the hostile-message tests: it maps to a closed loopback port, so
    // looking it up fails here rather than sending a DNS query off the machine.
    peers: { [peer.serverName]: `http://127.0.0.1:${peerWebPort}`, "trust-c.test:8483": "http://127.0.0.1:9" },
    allowInsecurePeers: true,
    // Both trusts run on loopback (off by default); each expects the other's first contact.
    allowLocalPeers: true,
    expectedPartners: [peer.serverName],
    aclSyncInterval: "10s",
    redeliveryInterval: "5s",
    ...overrides,
  };
}

export const PROPOSAL = {
  scope: { kind: "all" as const },
  purpose: "Regional stroke network: shared thrombolysis handover rooms",
  reviewDate: "2027-11-22",
  retention: "Each trust files and retains content under its own records policy (8 years).",
};
