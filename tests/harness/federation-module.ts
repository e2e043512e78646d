import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SynapseModule } from "./synapse.js";

const MODULES_DIR = join(dirname(fileURLToPath(import.meta.url)), "../../deploy/synapse/modules");

/**
 * Handover's federation gate (deploy/synapse/modules/handover_federation.py), as the test
 * stacks install it. Fail-open by default here: test files that run Handover without a
 * `federation` section, or no Handover at all, must not have their cross-trust invites refused.
 */
export function handoverFederationModule(options: { failOpen?: boolean; cacheTtlSeconds?: number } = {}): SynapseModule {
  return {
    directory: MODULES_DIR,
    module: "handover_federation.HandoverFederationGate",
    config: (dir) => ({
      registration_file: `${dir}/handover-registration.yaml`,
      cache_ttl_seconds: options.cacheTtlSeconds ?? 2,
      fail_open: options.failOpen ?? true,
    }),
  };
}

/**
 * Handover's device inbox (deploy/synapse/modules/handover_device_inbox.py): the bot's device
 * reads the to-device messages (room keys) Synapse kept while it held the appservice down.
 */
export function handoverDeviceInboxModule(): SynapseModule {
  return {
    directory: MODULES_DIR,
    module: "handover_device_inbox.HandoverDeviceInbox",
    config: (dir) => ({ registration_file: `${dir}/handover-registration.yaml` }),
  };
}
