import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import type { Handover } from "../../appservice/src/app.js";
import { buildSynapseRoot, startStack } from "../harness/stack.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";

export const PASSWORD = "e2e-password-123";

/**
 * The whole stack for the browser tests: real Synapse, PostgreSQL and Handover serving the
 * built portal. Tests read what they need from HANDOVER_E2E (JSON) in the environment.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  execFileSync("npm", ["run", "build", "-w", "portal"], { stdio: ["ignore", "ignore", "inherit"] });
  const root = await buildSynapseRoot();
  const stack = await startStack({ trusts: ["a"], root });
  const handovers: Handover[] = [];
  try {
    const trust = stack.trusts.a;
    const admin = await TestUser.register(trust, "wardadmin", PASSWORD);
    const auditor = await TestUser.register(trust, "auditor", PASSWORD);
    const nurse = await TestUser.register(trust, "nurse", PASSWORD);
    const handover = await startHandover(trust, stack.databaseUrls.a, {
      roles: { [admin.userId]: "admin", [auditor.userId]: "auditor" },
      portalDir: resolve("portal/dist"),
    });
    handovers.push(handover);
    const roomId = await admin.createRoom("Ward 9 handover");
    await admin.invite(roomId, handover.botUserId);
    await eventually("the bot to join", async () => (await admin.members(roomId))[handover.botUserId] === "join");
    await eventually("Handover to record the room", async () => (await handover.rooms.get(roomId))?.botMembership === "join");
    process.env.HANDOVER_E2E = JSON.stringify({
      portalUrl: `http://127.0.0.1:${handover.webPort}`,
      clientUrl: trust.clientUrl,
      roomId,
      admin: { userId: admin.userId, accessToken: admin.user.accessToken },
      auditor: { userId: auditor.userId },
      nurse: { userId: nurse.userId },
      password: PASSWORD,
    });
  } catch (error) {
    await Promise.allSettled(handovers.map((handover) => handover.stop()));
    await stack.stop();
    throw error;
  }
  return async () => {
    await Promise.allSettled(handovers.map((handover) => handover.stop()));
    await stack.stop();
  };
}
