import pino from "pino";
import { describe, expect, it } from "vitest";
import type { HomeserverPushContent } from "../domain/devices/posture-metrics.js";
import { FakeClock } from "../testing/fakes.js";
import { HomeserverPushContentWatch, type PushProbeRecord } from "./push-content.js";

class MemoryRecord implements PushProbeRecord {
  stored: { includesContent: boolean; checkedAt: Date } | null = null;
  async load() {
    return this.stored;
  }
  async save(observation: { includesContent: boolean; checkedAt: Date }) {
    this.stored = observation;
  }
}

const silent = pino({ level: "silent" });

describe("what the homeserver puts into pushes", () => {
  it("a probe's observation beats the config, reaches other processes through the database, and survives a later failed probe", async () => {
    const clock = new FakeClock(new Date("2026-12-05T03:00:00Z"));
    const record = new MemoryRecord();
    let outcome: HomeserverPushContent | Error = { includesContent: false, source: "probe", checkedAt: clock.now().toISOString(), note: null };
    const probe = {
      run: async () => {
        if (outcome instanceof Error) throw outcome;
        return outcome;
      },
    };
    const watch = new HomeserverPushContentWatch(probe, record, true, clock, silent);
    expect(watch.get()).toMatchObject({ includesContent: true, source: "config", note: "the push probe has not finished yet" });
    expect(await watch.check()).toMatchObject({ includesContent: false, source: "probe" });
    expect(watch.includesContent).toBe(false);

    const otherProcess = new HomeserverPushContentWatch(probe, record, true, clock, silent);
    expect(await otherProcess.refresh()).toMatchObject({ includesContent: false, source: "probe", checkedAt: "2026-12-05T03:00:00.000Z" });

    clock.advance(86_400_000);
    outcome = new Error("no push from the homeserver within 30000 ms");
    expect(await watch.check()).toEqual({
      includesContent: false,
      source: "probe",
      checkedAt: "2026-12-05T03:00:00.000Z",
      note: "the latest push probe (2026-12-06T03:00:00.000Z) could not run: no push from the homeserver within 30000 ms",
    });
  });

  it("without any observation a failed probe falls back to the config and says why; with the probe off, the config stands", async () => {
    const clock = new FakeClock(new Date("2026-12-05T03:00:00Z"));
    const failing = {
      run: async (): Promise<HomeserverPushContent> => {
        throw new Error("POST /pushers/set answered 400");
      },
    };
    const watch = new HomeserverPushContentWatch(failing, new MemoryRecord(), true, clock, silent);
    expect(await watch.check()).toMatchObject({
      includesContent: true,
      source: "config",
      note: expect.stringContaining("could not run: POST /pushers/set answered 400"),
    });
    const off = new HomeserverPushContentWatch(null, new MemoryRecord(), false, clock, silent);
    expect(await off.check()).toMatchObject({ includesContent: false, source: "config", note: "the push probe is off (devices.pushProbe.enabled)" });
  });
});
