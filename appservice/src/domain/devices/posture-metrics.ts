/**
 * The trust-wide device posture (issue 14): counts, the shares rated red, amber or green against
 * the configured thresholds, and each day's snapshot. Imports nothing: the admin API's contract
 * builds its schemas from these, and the portal bundles it. Times are ISO 8601.
 */
export const POSTURE_METRIC_NAMES = ["devicesVerified", "pushersCarryingContent", "staleSessions", "leaversWithSessions"] as const;
export type PostureMetricName = (typeof POSTURE_METRIC_NAMES)[number];
export type PostureThresholds = Record<PostureMetricName, { amber: number; red: number }>;

export const POSTURE_RATINGS = ["green", "amber", "red"] as const;
export type PostureRating = (typeof POSTURE_RATINGS)[number];

/** Which way is better for a metric's value. */
export const POSTURE_DIRECTIONS = ["higher", "lower"] as const;

export interface PostureCounts {
  people: number;
  peopleWithDevices: number;
  devices: number;
  devicesCrossSigned: number;
  pushers: number;
  pushersCarryingContent: number;
  staleSessions: number;
  /** People directory sync marked as left. */
  leavers: number;
  leaversWithSessions: number;
}

export interface PostureMetric {
  name: PostureMetricName;
  better: (typeof POSTURE_DIRECTIONS)[number];
  count: number;
  /** What the count is a share of; null for a plain count (leavers with sessions). */
  total: number | null;
  /** The share (0..1), or the count when there is no total; null when the total is 0. */
  value: number | null;
  rating: PostureRating;
  amber: number;
  red: number;
}

/** What the homeserver does with message content in pushes (Synapse's `push.include_content`), and how Handover knows. */
export interface HomeserverPushContent {
  includesContent: boolean;
  /** "probe": Handover saw a push from the homeserver; "config": `devices.homeserverIncludesContent` (no probe, or it could not run). */
  source: "probe" | "config";
  checkedAt: string | null;
  /** Why the answer is the config's (the probe is off, has not run yet, or failed). */
  note: string | null;
}

export const POSTURE_PASS_KINDS = ["full", "incremental"] as const;

export interface Posture {
  homeserverPush: HomeserverPushContent;
  latest: {
    /** YYYY-MM-DD. */
    day: string;
    takenAt: string;
    adminCalls: number;
    /** "full" read everyone; "incremental" re-read only people whose state can have changed since the last pass. */
    kind: (typeof POSTURE_PASS_KINDS)[number];
    /** People whose devices and pushers the pass read from Synapse. */
    peopleRead: number;
    /** Synapse admin API calls per person in the pass. */
    adminCallsPerPerson: number | null;
    counts: PostureCounts;
    metrics: PostureMetric[];
  } | null;
  /** One point per day with a snapshot, oldest first: each metric's value that day. */
  history: { day: string; values: Record<PostureMetricName, number | null> }[];
}
