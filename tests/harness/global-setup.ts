import type { TestProject } from "vitest/node";
import { buildSynapseRoot, startStack, writeStackInfo } from "./stack.js";
import { requireSystemPackages } from "./util.js";

/**
 * Starts two federating homeservers and PostgreSQL once per Vitest run; tests read them with
 * `inject("stack")`. HANDOVER_STACK_INFO=<path> also writes the StackInfo there for tools.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  requireSystemPackages();
  const root = await buildSynapseRoot();
  const stack = await startStack({ trusts: ["a", "b"], root });
  const path = process.env.HANDOVER_STACK_INFO;
  if (path) writeStackInfo(path, stack);
  project.provide("stack", stack.info());
  return () => stack.stop();
}
