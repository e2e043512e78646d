import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import type { MembershipAction } from "./planner.js";
import type { IdentityStore, RunStore } from "./ports.js";
import { RunBookkeeping } from "./run-bookkeeping.js";

const KICK: MembershipAction = { kind: "kick", roomId: "!ward:trust.test", userId: "@cat:trust.test", why: "no-matching-rule" };

describe("RunBookkeeping", () => {
  it("bookkeeping that fails past its own handling (a store rejecting with a value that cannot even be printed) is a problem of the run, never an unhandled rejection that would end the process", async () => {
    const audit = new RecordingAudit();
    audit.record = async () => {
      throw Object.create(null);
    };
    const runs = { setOutcome: async () => {} } as unknown as RunStore;
    const books = new RunBookkeeping(2, "handover:directory", { audit, runs, identities: {} as IdentityStore, clock: new FakeClock() });
    books.made(0, KICK);
    // The lanes go on for a while (homeserver answers) before the run asks for its books.
    await new Promise((resolve) => setImmediate(resolve));
    expect(await books.finish()).toEqual([expect.stringMatching(/^run 2: bookkeeping failed/)]);
  });
});
