import { describe, expect, it } from "vitest";
import { HomeserverPushProbe } from "./push-probe.js";

describe("the push probe", () => {
  it("leaves alone an account of the probe's name that is not Handover's, changing nothing", async () => {
    const upserts: string[] = [];
    const probe = new HomeserverPushProbe({
      homeserverUrl: "http://127.0.0.1:9",
      serverName: "trust.example",
      admin: {
        userAccount: async (userId) => ({ name: userId, displayname: "Harriet Over", deactivated: false }),
        upsertUserWithPassword: async (userId) => void upserts.push(userId),
      },
      bot: {
        createRoom: async () => {
          throw new Error("no room should be made");
        },
        postClearMessage: async () => "",
        leave: async () => {},
      },
      timeoutMs: 1000,
    });
    await expect(probe.run(() => new Date())).rejects.toThrow(
      '@handover-push-probe:trust.example exists and is not Handover\'s probe account (display name "Harriet Over")',
    );
    expect(upserts).toEqual([]);
  });

  it("tells its own account (the probe's display name) from someone's real account of that name, or none", async () => {
    const probeWith = (displayname: string | null) =>
      new HomeserverPushProbe({
        homeserverUrl: "http://127.0.0.1:9",
        serverName: "trust.example",
        admin: {
          userAccount: async (userId) => (displayname === null ? null : { name: userId, displayname, deactivated: false }),
          upsertUserWithPassword: async () => {},
        },
        bot: { createRoom: async () => "", postClearMessage: async () => "", leave: async () => {} },
        timeoutMs: 1000,
      });
    expect(await probeWith("Handover push probe").accountIsHandovers()).toBe(true);
    expect(await probeWith("Harriet Over").accountIsHandovers()).toBe(false);
    expect(await probeWith(null).accountIsHandovers()).toBe(false);
  });
});
