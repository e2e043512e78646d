import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import type { DirectoryGroupMembers } from "./model.js";
import type { PersonDevices } from "./person-devices.js";
import type { AccountPages } from "./posture-pass.js";
import type { RecordOutcome, SpotCheck, SpotCheckList, StartSpotCheck } from "./spot-check.js";
import { spotCheckCsv } from "./spot-check-csv.js";

export const SCHEDULE_ACTOR = "handover:spot-check-schedule";

export interface NewSpotCheck {
  trigger: SpotCheck["trigger"];
  startedBy: string;
  startedAt: Date;
  sample: SpotCheck["sample"];
  people: { userId: string; displayName: string | null; findings: string[]; meetsServerPolicy: boolean }[];
}

export interface SpotCheckStore {
  create(check: NewSpotCheck): Promise<SpotCheck>;
  get(id: number): Promise<SpotCheck | null>;
  list(limit: number): Promise<SpotCheckList["spotChecks"]>;
  /** false when the person is not in that spot check's sample. */
  recordOutcome(id: number, userId: string, outcome: RecordOutcome & { recordedBy: string; recordedAt: Date }): Promise<boolean>;
  /** When the last scheduled check of this group (null: of everyone) started; groups compared in any case. */
  lastScheduledAt(group: string | null): Promise<Date | null>;
}

export interface SpotCheckPdfRenderer {
  render(check: SpotCheck, generatedAt: Date): Promise<Uint8Array>;
}

export interface SpotCheckDeps {
  accounts: AccountPages;
  /** One person's server-visible posture (SessionsService.person). */
  posture(userId: string): Promise<PersonDevices>;
  /** Directory groups, for a sample of one group's people. */
  groups: DirectoryGroupMembers;
  store: SpotCheckStore;
  pdf: SpotCheckPdfRenderer;
  audit: AuditRecorder;
  clock: Clock;
  /** `count` distinct indices below `size`, uniformly at random. */
  pick(size: number, count: number): number[];
  excluded(): Promise<ReadonlySet<string>>;
}

/** What the homeserver shows against the trust's policy: every device verified, no content in pushes, no stale sessions, no sessions after leaving. */
export function policyFindings(person: PersonDevices): string[] {
  const findings: string[] = [];
  if (person.directory === "left" && person.devices.length > 0) findings.push("has left the trust but still has sessions");
  for (const device of person.devices) {
    if (!device.crossSigned) findings.push(`device ${device.deviceId} (${device.client}) is not cross-signed`);
    if (device.stale) findings.push(`device ${device.deviceId} (${device.client}) is stale: last used ${device.lastSeenAt ?? "never"}`);
  }
  for (const pusher of person.pushers.filter((candidate) => candidate.carriesContent)) {
    findings.push(`pusher ${pusher.appDisplayName ?? pusher.appId} on ${pusher.deviceDisplayName ?? "an unnamed device"} carries message content`);
  }
  return findings;
}

/** Spot checks: a random sample of people, their server-visible posture, and the IG lead's checklist per person. Every step audited. */
export class SpotChecks {
  constructor(private readonly deps: SpotCheckDeps) {}

  async start(trigger: SpotCheck["trigger"], actor: string, request: StartSpotCheck): Promise<SpotCheck> {
    const excluded = await this.deps.excluded();
    const inGroup = request.group === undefined ? null : await this.deps.groups.membersOf(request.group);
    // "everyone" is everyone in the group when one is given: the share is of the group's people.
    const everyone: { userId: string; displayName: string | null }[] = [];
    for await (const page of this.deps.accounts.pages(100)) {
      everyone.push(...page.filter((account) => !excluded.has(account.userId) && (inGroup === null || inGroup.has(account.userId))));
    }
    // A misspelt group would otherwise start an empty spot check that looks like a finished one.
    if (inGroup !== null && everyone.length === 0) {
      throw new HandoverError("VALIDATION_FAILED", `Nobody with an account on this homeserver is in the directory group "${request.group}"`);
    }
    const size = Math.min(everyone.length, request.people ?? Math.ceil((request.share ?? 0) * everyone.length));
    const chosen = this.deps.pick(everyone.length, size).map((index) => everyone[index] as { userId: string; displayName: string | null });
    const people = [];
    for (const account of chosen) {
      const findings = policyFindings(await this.deps.posture(account.userId));
      people.push({ userId: account.userId, displayName: account.displayName, findings, meetsServerPolicy: findings.length === 0 });
    }
    const check = await this.deps.store.create({
      trigger,
      startedBy: actor,
      startedAt: this.deps.clock.now(),
      sample: { people: request.people ?? null, share: request.share ?? null, group: request.group ?? null, outOf: everyone.length },
      people,
    });
    await this.deps.audit.record({
      actor,
      action: "devices.spot-check.started",
      target: `spot check ${check.id}`,
      details: {
        spotCheck: check.id,
        trigger,
        sampled: people.length,
        outOf: everyone.length,
        ...(request.group === undefined ? {} : { group: request.group }),
        meetServerPolicy: people.filter((p) => p.meetsServerPolicy).length,
      },
    });
    return check;
  }

  /**
   * Starts the scheduled spot checks that are due: one of everyone when `groups` is empty,
   * otherwise one per directory group, each due when that group's last scheduled check is older
   * than `everyMs` (the job ticks more often than that). A group that cannot be sampled (nobody
   * in it has an account here) does not stop the others; the first such error is thrown after.
   */
  async runSchedule(everyMs: number, people: number, groups: readonly string[] = []): Promise<SpotCheck[]> {
    const started: SpotCheck[] = [];
    let failure: unknown = null;
    for (const group of groups.length === 0 ? [null] : groups) {
      const last = await this.deps.store.lastScheduledAt(group);
      if (last && this.deps.clock.now().getTime() - last.getTime() < everyMs) continue;
      try {
        started.push(await this.start("scheduled", SCHEDULE_ACTOR, group === null ? { people } : { people, group }));
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== null) throw failure;
    return started;
  }

  async get(id: number): Promise<SpotCheck> {
    const check = await this.deps.store.get(id);
    if (!check) throw new HandoverError("NOT_FOUND", `No spot check ${id}`);
    return check;
  }

  list(): Promise<SpotCheckList["spotChecks"]> {
    return this.deps.store.list(100);
  }

  async record(id: number, userId: string, actor: string, outcome: RecordOutcome): Promise<SpotCheck> {
    await this.get(id);
    if (!(await this.deps.store.recordOutcome(id, userId, { ...outcome, recordedBy: actor, recordedAt: this.deps.clock.now() }))) {
      throw new HandoverError("NOT_FOUND", `${userId} is not in spot check ${id}`);
    }
    await this.deps.audit.record({
      actor,
      action: "devices.spot-check.outcome-recorded",
      target: userId,
      details: { spotCheck: id, outcome: outcome.outcome, ...outcome.checklist },
    });
    return this.get(id);
  }

  async csv(id: number, actor: string): Promise<string> {
    const check = await this.get(id);
    await this.deps.audit.record({ actor, action: "devices.spot-check.exported", target: `spot check ${id}`, details: { spotCheck: id, format: "csv" } });
    return spotCheckCsv(check);
  }

  async pdf(id: number, actor: string): Promise<{ filename: string; contentType: "application/pdf"; data: string }> {
    const check = await this.get(id);
    const bytes = await this.deps.pdf.render(check, this.deps.clock.now());
    await this.deps.audit.record({ actor, action: "devices.spot-check.exported", target: `spot check ${id}`, details: { spotCheck: id, format: "pdf" } });
    return { filename: `spot-check-${id}.pdf`, contentType: "application/pdf", data: Buffer.from(bytes).toString("base64") };
  }
}
