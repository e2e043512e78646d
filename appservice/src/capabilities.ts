import { auditAnchorCapability } from "./audit/capability.js";
import { auditVerifyCapability } from "./audit/verify-capability.js";
import type { CapabilityFactory } from "./capability.js";
import { devicesCapability } from "./devices/capability.js";
import { directoryCapability } from "./directory/capability.js";
import { e2eeCapability } from "./e2ee/capability.js";
import { federationCapability } from "./federation/capability.js";
import { recordsCapability } from "./records/capability.js";
import { retentionCapability } from "./retention/capability.js";

/** The capabilities this build of Handover runs, in the order they see events. */
export const CAPABILITIES: CapabilityFactory[] = [
  federationCapability,
  retentionCapability,
  directoryCapability,
  recordsCapability,
  e2eeCapability,
  auditAnchorCapability,
  auditVerifyCapability,
  devicesCapability,
];
