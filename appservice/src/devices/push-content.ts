import type { Logger } from "pino";
import type { Clock } from "../domain/clock.js";
import type { HomeserverPushContent } from "../http/contract-devices.js";
import type { HomeserverPushProbe } from "./push-probe.js";

/**
 * What the homeserver does with message content in pushes, as last found out: the probe's
 * observation when it ran, otherwise `devices.homeserverIncludesContent`, saying which and why.
 * Held in memory by each Handover process; the probe runs at start and then on its schedule.
 */
export class HomeserverPushContentWatch {
  private current: HomeserverPushContent;

  constructor(
    private readonly probe: HomeserverPushProbe | null,
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

  async check(): Promise<HomeserverPushContent> {
    if (!this.probe) return this.current;
    try {
      this.current = await this.probe.run(() => this.clock.now());
      if (this.current.includesContent !== this.configured) {
        this.logger.warn(
          { observed: this.current.includesContent, configured: this.configured },
          "devices: the homeserver's push.include_content differs from devices.homeserverIncludesContent; using what the probe saw",
        );
      }
    } catch (error) {
      this.logger.warn({ err: error }, "devices: the push probe could not run; using devices.homeserverIncludesContent");
      this.current = {
        includesContent: this.configured,
        source: "config",
        checkedAt: this.clock.now().toISOString(),
        note: `the push probe could not run: ${(error as Error).message}`,
      };
    }
    return this.current;
  }
}
