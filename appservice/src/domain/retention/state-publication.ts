import type { Clock } from "../clock.js";
import type { RoomPlan } from "./planner.js";
import type { PublishedStateLedger, RetentionStatePublisher } from "./ports.js";

export const RETENTION_EVENT_TYPE = "m.room.retention";

/** m.room.retention content (MSC1763) for a room's effective policy. */
export function retentionContent(plan: Pick<RoomPlan, "policy">): Record<string, unknown> {
  const policy = plan.policy;
  if (!policy) return {};
  return {
    ...(policy.maxAgeMs === null ? {} : { max_lifetime: policy.maxAgeMs }),
    ...(policy.minAgeMs > 0 ? { min_lifetime: policy.minAgeMs } : {}),
  };
}

function canonical(content: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(content)
      .sort()
      .map((key) => [key, content[key]]),
  );
}

export interface PublicationDeps {
  publisher: RetentionStatePublisher;
  ledger: PublishedStateLedger;
  clock: Clock;
  /** At most this many rooms per sweep, so a policy change over thousands of rooms is spread out. */
  perSweep: number;
  onError(roomId: string, error: unknown): void;
}

/** Publishes each room's effective policy as m.room.retention, only where it changed. */
export class RetentionStatePublication {
  constructor(private readonly deps: PublicationDeps) {}

  async publishChanged(plans: readonly RoomPlan[]): Promise<number> {
    const published = await this.deps.ledger.published();
    let count = 0;
    for (const plan of plans) {
      if (count >= this.deps.perSweep) break;
      if (!plan.policy) continue;
      const content = retentionContent(plan);
      const previous = published.get(plan.roomId);
      if (previous && canonical(previous) === canonical(content)) continue;
      try {
        await this.deps.publisher.setState(plan.roomId, RETENTION_EVENT_TYPE, "", content);
        await this.deps.ledger.markPublished(plan.roomId, content, this.deps.clock.now());
        count++;
      } catch (error) {
        this.deps.onError(plan.roomId, error);
      }
    }
    return count;
  }
}
