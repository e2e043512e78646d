import type { CapabilityFactory } from "./capability.js";

/** The capabilities this build of Handover runs, in the order they see events. */
export const CAPABILITIES: CapabilityFactory[] = [];
