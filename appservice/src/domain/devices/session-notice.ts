/**
 * The bot's notice to a person whose sessions an admin ended (issue 14): after a lost or stolen
 * phone every device is signed out, so the notice waits in a direct room with the bot and is the
 * first thing the person sees when they sign in again; after one device is signed out, the
 * person's remaining devices see it at once.
 */

export interface SessionEndNotice {
  userId: string;
  /** The devices signed out, with their display names where Synapse had one. */
  devices: readonly { deviceId: string; displayName: string | null }[];
  /** Every device of the person (lost or stolen phone), not one. */
  everywhere: boolean;
  endedAt: Date;
  /** The admin's reason as written for the audit trail; shown to the person only when the trust chose to. */
  reason: string;
}

export type NoticeOutcome = "sent" | "failed" | "off";

export interface SessionEndNotifier {
  /** Never throws: a notice that cannot be sent must not undo or hide a sign-out that happened. */
  notify(notice: SessionEndNotice): Promise<NoticeOutcome>;
}

export interface NoticeWording {
  /** Who ended the sessions, as the person knows them ("Example Hospitals NHS Foundation Trust"). */
  trustName: string;
  /**
   * Whether the admin's reason goes into the notice. Off by default: the reason is free text
   * typed for the audit trail, and may name a patient or a ward's incident, which must not go
   * to a device (or a push service) outside the audit trail.
   */
  includeReason: boolean;
}

const when = (at: Date) => `${at.toISOString().slice(0, 10)} at ${at.toISOString().slice(11, 16)} UTC`;

/** The notice's words: what was ended, when, by whom, and what to do; nothing from any conversation. */
export function sessionEndNoticeText(notice: SessionEndNotice, wording: NoticeWording): string {
  const what = notice.everywhere
    ? `${wording.trustName} ended all your Matrix sessions: every device you were signed in on was signed out`
    : `${wording.trustName} signed out your device ${notice.devices.map((device) => (device.displayName ? `"${device.displayName}" (${device.deviceId})` : device.deviceId)).join(", ")}; your other devices stay signed in`;
  const reason = wording.includeReason ? ` Reason given: ${notice.reason}.` : "";
  const next = notice.everywhere
    ? " This is what happens when a phone is reported lost or stolen. Sign in again only on devices you still have, and set up verification on them again."
    : "";
  return `${what}, on ${when(notice.endedAt)}.${reason}${next} If you did not expect this, contact your information governance or IT team.`;
}
