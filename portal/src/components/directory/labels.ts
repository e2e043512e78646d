import type { DirectoryAction, DirectoryRun } from "@handover/appservice/contract";

export const ACTION_LABELS: Readonly<Record<DirectoryAction["kind"], string>> = {
  "take-room": "Bot takes the room",
  invite: "Invite",
  "force-join": "Add (forced join)",
  kick: "Remove",
  "set-power": "Change power levels",
  "end-sessions": "Log out everywhere",
  lock: "Lock account",
  deactivate: "Deactivate account",
};

export const STATUS_LABELS: Readonly<Record<DirectoryRun["status"], string>> = {
  held: "Held for approval",
  applying: "Applying",
  applied: "Applied",
  partial: "Partly applied",
  rejected: "Rejected",
  refused: "Refused",
  interrupted: "Interrupted",
  superseded: "Superseded",
  noop: "Nothing to change",
  "dry-run": "Dry run",
};

export const WHY_LABELS: Readonly<Record<string, string>> = {
  leaver: "left the trust or disabled",
  "no-matching-rule": "no longer in a group for this room",
  "not-in-directory": "not in the staff directory",
};
