import type { HomeserverPushContent, Posture, PostureThresholds } from "./posture-metrics.js";
import type { PostureSnapshot } from "./posture-pass.js";
import { metricValue, POSTURE_METRICS, postureMetrics } from "./posture-rating.js";

/** The posture answer: the newest snapshot rated against the thresholds, and each day's values for the chart. */
export function postureReport(snapshots: readonly PostureSnapshot[], thresholds: PostureThresholds, homeserverPush: HomeserverPushContent): Posture {
  const [latest] = snapshots;
  return {
    homeserverPush,
    latest: latest
      ? {
          day: latest.day,
          takenAt: latest.takenAt.toISOString(),
          adminCalls: latest.adminCalls,
          kind: latest.kind,
          peopleRead: latest.peopleRead,
          adminCallsPerPerson: latest.counts.people === 0 ? null : latest.adminCalls / latest.counts.people,
          counts: latest.counts,
          metrics: postureMetrics(latest.counts, thresholds),
        }
      : null,
    history: [...snapshots].reverse().map((snapshot) => ({
      day: snapshot.day,
      values: Object.fromEntries(POSTURE_METRICS.map((name) => [name, metricValue(name, snapshot.counts)])) as Posture["history"][number]["values"],
    })),
  };
}
