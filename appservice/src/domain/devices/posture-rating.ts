import type { PostureCounts, PostureMetric, PostureMetricName, PostureThresholds } from "./posture-metrics.js";

/**
 * Which way is better for each measure, and what it is a share of. Verified devices should be
 * many; the rest should be few. Leavers with sessions is a count: one is already a problem.
 */
const MEASURES: Record<PostureMetricName, { better: "higher" | "lower"; part: keyof PostureCounts; whole: keyof PostureCounts | null }> = {
  devicesVerified: { better: "higher", part: "devicesCrossSigned", whole: "devices" },
  pushersCarryingContent: { better: "lower", part: "pushersCarryingContent", whole: "pushers" },
  staleSessions: { better: "lower", part: "staleSessions", whole: "devices" },
  leaversWithSessions: { better: "lower", part: "leaversWithSessions", whole: null },
};

export const POSTURE_METRICS = Object.keys(MEASURES) as PostureMetricName[];

/** The value a measure is rated on: a share (0..1) or, without a whole, the count; null when there is nothing to share. */
export function metricValue(name: PostureMetricName, counts: PostureCounts): number | null {
  const measure = MEASURES[name];
  if (measure.whole === null) return counts[measure.part];
  const whole = counts[measure.whole];
  return whole === 0 ? null : counts[measure.part] / whole;
}

export function rate(name: PostureMetricName, value: number | null, thresholds: PostureThresholds): "green" | "amber" | "red" {
  if (value === null) return "green";
  const { amber, red } = thresholds[name];
  if (MEASURES[name].better === "higher") return value >= amber ? "green" : value >= red ? "amber" : "red";
  return value <= amber ? "green" : value <= red ? "amber" : "red";
}

export function postureMetrics(counts: PostureCounts, thresholds: PostureThresholds): PostureMetric[] {
  return POSTURE_METRICS.map((name) => {
    const measure = MEASURES[name];
    const value = metricValue(name, counts);
    return {
      name,
      better: measure.better,
      count: counts[measure.part],
      total: measure.whole === null ? null : counts[measure.whole],
      value,
      rating: rate(name, value, thresholds),
      amber: thresholds[name].amber,
      red: thresholds[name].red,
    };
  });
}
