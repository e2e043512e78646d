import type { Logger } from "pino";
import type { Clock } from "../domain/clock.js";
import type { HomeserverPushContent } from "../domain/devices/posture-metrics.js";
import type { HomeserverPushProbe } from "./push-probe.js";

/** Where the probe's observations are kept, so every Handover process answers the same. */
export interface PushProbeRecord {
  load(): Promise<{ includesContent: boolean; checkedAt: Date } | null>;
  save(observation: { includesContent: boolean; checkedAt: Date }): Promise<void>;
}

/**
 * What the homeserver does with message content in pushes, as last found out: the probe's
 * latest observation (from any Handover process), otherwise `devices.homeserverIncludesContent`,
 * saying which and why. A failed probe does not undo an earlier observation: a homeserver's
 * `push.include_content` changes only with its config, so the last sighting stays the better
 * answer, with the failure noted.
 */
export class HomeserverPushContentWatch {
  private current: HomeserverPushContent;

  constructor(
    private readonly probe: Pick<HomeserverPushProbe, "run"> | null,
    private readonly record: PushProbeRecord,
    private readonly configured: boolean,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.current = {
      includesContent: configured,
      source: "config",
      checkedAt: null,
      note: probe ? "the push probe has not finished yet" : "the push probe is off (devices.pushProbe.enabled)",
    };
  }

  get(): HomeserverPushContent {
    return this.current;
  }

  get includesContent(): boolean {
    return this.current.includesContent;
  }

  /** Takes up an observation another process (or an earlier run) made and this one has not seen. */
  async refresh(): Promise<HomeserverPushContent> {
    if (!this.probe) return this.current;
    const stored = await this.record.load();
    const known = this.current.source === "probe" && this.current.checkedAt !== null ? Date.parse(this.current.checkedAt) : Number.NEGATIVE_INFINITY;
    if (stored && stored.checkedAt.getTime() > known) {
      this.current = { includesContent: stored.includesContent, source: "probe", checkedAt: stored.checkedAt.toISOString(), note: null };
    }
    return this.current;
  }

  async check(): Promise<HomeserverPushContent> {
    if (!this.probe) return this.current;
    try {
      const observed = await this.probe.run(() => this.clock.now());
      await this.record.save({ includesContent: observed.includesContent, checkedAt: new Date(observed.checkedAt ?? this.clock.now().toISOString()) });
      this.current = observed;
      if (observed.includesContent !== this.configured) {
        this.logger.warn(
          { observed: observed.includesContent, configured: this.configured },
          "devices: the homeserver's push.include_content differs from devices.homeserverIncludesContent; using what the probe saw",
        );
      }
    } catch (error) {
      this.logger.warn({ err: error }, "devices: the push probe could not run");
      const failure = `the latest push probe (${this.clock.now().toISOString()}) could not run: ${(error as Error).message}`;
      const earlier = await this.refresh();
      this.current =
        earlier.source === "probe"
          ? { ...earlier, note: failure }
          : { includesContent: this.configured, source: "config", checkedAt: this.clock.now().toISOString(), note: failure };
    }
    return this.current;
  }
}
