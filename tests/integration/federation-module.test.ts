import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { buildSynapseRoot } from "../harness/stack.js";
import { pathInRoot } from "../harness/synapse-config.js";

const execFileAsync = promisify(execFile);
const MODULES = resolve(dirname(fileURLToPath(import.meta.url)), "../../deploy/synapse/modules");

/**
 * The federation Synapse module against a Handover that hangs and one that answers
 * (deploy/synapse/modules/handover_federation_test.py), run with the python3 and Synapse of the
 * harness's Synapse root, where the module runs in the test stacks.
 */
describe("the federation Synapse module", () => {
  it("asks a hung Handover once for N events in a row and for N callers at once; a room id without ':' is unknown", async () => {
    const root = await buildSynapseRoot();
    const dir = mkdtempSync(join(root, "tmp", "handover-federation-module-"));
    try {
      for (const file of ["handover_federation.py", "handover_federation_test.py"]) cpSync(join(MODULES, file), join(dir, file));
      const run = await execFileAsync("chroot", [root, "python3", `${pathInRoot(root, dir)}/handover_federation_test.py`], {
        cwd: "/",
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", PYTHONPATH: pathInRoot(root, dir), PYTHONDONTWRITEBYTECODE: "1" },
      }).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? "", stderr: error.stderr ?? String(error) }));
      expect(run.stdout, run.stderr).toContain("ok n_events_in_a_row_cost_one_timeout");
      expect(run.stdout, run.stderr).toContain("ok one_question_in_flight");
      expect(run.stdout, run.stderr).toContain("ok room_without_server_part_is_unknown");
      expect(run.stdout).not.toContain("FAIL");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
