/**
 * Spot checks of staff devices (issue 14): a random sample of people, each person's
 * server-visible posture against the trust's policy, and a checklist of what only a person can
 * see on the phone. Imports nothing: the admin API's contract builds its schemas from these, and
 * the portal bundles it. Times are ISO 8601.
 */
export const CHECKLIST_ANSWERS = ["yes", "no", "not-checked"] as const;
export type ChecklistAnswer = (typeof CHECKLIST_ANSWERS)[number];

export const SPOT_CHECK_OUTCOMES = ["meets-policy", "action-needed", "not-reached"] as const;
export type SpotCheckOutcome = (typeof SPOT_CHECK_OUTCOMES)[number];

export const SPOT_CHECK_TRIGGERS = ["scheduled", "on-demand"] as const;

export interface SpotCheckChecklist {
  screenLock: ChecklistAnswer;
  photoLibraryUnlinked: ChecklistAnswer;
  lockScreenPreviewsOff: ChecklistAnswer;
}

export interface SpotCheckPerson {
  userId: string;
  displayName: string | null;
  /** What the homeserver shows against the policy (devices not cross-signed, pushers carrying content, stale sessions). */
  findings: string[];
  meetsServerPolicy: boolean;
  checklist: SpotCheckChecklist | null;
  outcome: SpotCheckOutcome | null;
  note: string | null;
  recordedBy: string | null;
  recordedAt: string | null;
}

export interface SpotCheck {
  id: number;
  trigger: (typeof SPOT_CHECK_TRIGGERS)[number];
  startedBy: string;
  startedAt: string;
  /** How the sample was asked for: a number of people or a share of everyone (of one directory group's people when `group` is set). */
  sample: { people: number | null; share: number | null; group?: string | null | undefined; outOf: number };
  people: SpotCheckPerson[];
  /** People whose outcome is recorded. */
  recorded: number;
}

export interface SpotCheckList {
  spotChecks: (Omit<SpotCheck, "people"> & { size: number })[];
}

/** Either `people` or `share`, never both. */
export interface StartSpotCheck {
  people?: number | undefined;
  share?: number | undefined;
  group?: string | undefined;
}

export interface RecordOutcome {
  checklist: SpotCheckChecklist;
  outcome: SpotCheckOutcome;
  note?: string | undefined;
}
