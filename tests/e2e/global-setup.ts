import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import type { Handover } from "../../appservice/src/app.js";
import { buildSynapseRoot, startStack } from "../harness/stack.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import type { E2eInfo, E2eTrust } from "./e2e-info.js";

export const PASSWORD = "e2e-password-123";

/**
 * The whole stack for the browser tests: two trusts' real Synapses, PostgreSQL, and a Handover
 * for each serving the built portal. Tests read it with e2eInfo() (HANDOVER_E2E in the env).
 * Each trust has an admin and an auditor with roles and a nurse without one.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  execFileSync("npm", ["run", "build", "-w", "portal"], { stdio: ["ignore", "ignore", "inherit"] });
  const root = await buildSynapseRoot();
  const stack = await startStack({ trusts: ["a", "b"], root });
  const handovers: Handover[] = [];
  const stop = async () => {
    await Promise.allSettled(handovers.map((handover) => handover.stop()));
    await stack.stop();
  };
  try {
    const trusts = {} as Record<"a" | "b", E2eTrust>;
    for (const key of ["a", "b"] as const) {
      const trust = stack.trusts[key];
      const admin = await TestUser.register(trust, "wardadmin", PASSWORD);
      const auditor = await TestUser.register(trust, "auditor", PASSWORD);
      const nurse = await TestUser.register(trust, "nurse", PASSWORD);
      const handover = await startHandover(trust, stack.databaseUrls[key], {
        roles: { [admin.userId]: "admin", [auditor.userId]: "auditor" },
        portalDir: resolve("portal/dist"),
      });
      handovers.push(handover);
      const roomId = await admin.createRoom(`Ward 9 handover (${key.toUpperCase()})`);
      await admin.invite(roomId, handover.botUserId);
      await eventually("the bot to join", async () => (await admin.members(roomId))[handover.botUserId] === "join");
      await eventually("Handover to record the room", async () => (await handover.rooms.get(roomId))?.botMembership === "join");
      trusts[key] = {
        serverName: trust.serverName,
        portalUrl: `http://127.0.0.1:${handover.webPort}`,
        clientUrl: trust.clientUrl,
        botUserId: handover.botUserId,
        roomId,
        admin: { userId: admin.userId, accessToken: admin.user.accessToken },
        auditor: { userId: auditor.userId },
        nurse: { userId: nurse.userId, accessToken: nurse.user.accessToken },
        databaseUrl: stack.databaseUrls[key],
      };
    }
    const info: E2eInfo = { password: PASSWORD, trusts };
    process.env.HANDOVER_E2E = JSON.stringify(info);
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}
