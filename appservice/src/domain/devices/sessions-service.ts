import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import type { AccountDirectory, CrossSigningReader, DeviceAdmin, DeviceRecord, DirectoryGroupMembers, DirectoryStandingReader, LocalAccount } from "./model.js";
import type { PersonDevices, SignOutResult, StaleSweep } from "./person-devices.js";
import { isStale, type PostureSettings, personPosture } from "./posture.js";
import type { SessionEndNotifier } from "./session-notice.js";
import type { DeviceSightings, PostureChanges } from "./watch.js";

export interface StaleSession {
  userId: string;
  deviceId: string;
  lastSeenAt: Date | null;
}

export interface NewStaleSweep {
  status: "held" | "applied";
  requestedBy: string;
  requestedAt: Date;
  reason: string;
  sessions: readonly StaleSession[];
  approvalAbove: number;
}

/** Stale-session sweeps, kept so a held one is approved exactly as it was planned. */
export interface StaleSweepStore {
  create(sweep: NewStaleSweep): Promise<StaleSweep>;
  get(id: number): Promise<StaleSweep | null>;
  list(limit: number): Promise<StaleSweep[]>;
  /** Moves a held sweep to its decision; false when it was no longer held (someone else decided). */
  decide(id: number, status: "applied" | "rejected", decidedBy: string, at: Date): Promise<boolean>;
}

export interface SessionsSettings extends PostureSettings {
  /** A sweep ending more sessions than this is held for approval. */
  approvalAbove: number;
  /** Accounts whose sessions Handover never ends in bulk (its own admin account, the bot). */
  protectedAccounts(): Promise<ReadonlySet<string>>;
  /** At most this many admin calls run at once, so a pass over many people never crowds out clinicians. */
  concurrency: number;
}

export interface SessionsDeps {
  admin: DeviceAdmin;
  accounts: AccountDirectory;
  crossSigning: CrossSigningReader;
  directory: DirectoryStandingReader;
  groups: DirectoryGroupMembers;
  sweeps: StaleSweepStore;
  /** First sightings to show, and the posture watch told of sessions Handover ends. */
  watch: PostureChanges & Pick<DeviceSightings, "firstSeen">;
  /** Tells the person, from the bot, that their sessions were ended. */
  notices: SessionEndNotifier;
  audit: AuditRecorder;
  clock: Clock;
  settings: SessionsSettings;
}

/** Runs `work` over `items` with at most `limit` running at once, keeping the order of results. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** People's devices and sessions: reading their posture and ending sessions, every action audited. */
export class SessionsService {
  constructor(private readonly deps: SessionsDeps) {}

  /** People matching `search` (in their ID or display name), only members of `room` and of directory `group` when given. */
  async people(search: string | null, limit: number, room: string | null = null, group: string | null = null): Promise<PersonDevices[]> {
    const accounts =
      room === null && group === null ? await this.deps.accounts.accounts(search, limit) : await this.narrowedAccounts(room, group, search, limit);
    const userIds = accounts.map((account) => account.userId);
    const [crossSigning, standing, seen] = await Promise.all([
      userIds.length > 0 ? this.deps.crossSigning.crossSigned(userIds) : new Map(),
      this.deps.directory.standing(userIds),
      this.deps.watch.firstSeen(userIds),
    ]);
    const now = this.deps.clock.now();
    return mapLimited(accounts, this.deps.settings.concurrency, async (account) => {
      const [devices, pushers] = await Promise.all([this.deps.admin.devices(account.userId), this.deps.admin.pushers(account.userId)]);
      return personPosture(
        {
          account,
          devices,
          pushers,
          crossSigning: crossSigning.get(account.userId),
          standing: standing.get(account.userId) ?? "not-managed",
          firstSeen: seen.devices.get(account.userId),
          watchingSince: seen.watchingSince,
        },
        now,
        this.deps.settings,
      );
    });
  }

  private async narrowedAccounts(room: string | null, group: string | null, search: string | null, limit: number): Promise<LocalAccount[]> {
    const needle = search?.toLowerCase() ?? "";
    const matches = (account: LocalAccount) => `${account.userId} ${account.displayName ?? ""}`.toLowerCase().includes(needle);
    const inGroup = group === null ? null : await this.deps.groups.membersOf(group);
    if (room !== null) {
      const members = await this.deps.accounts.roomMembers(room);
      return members.filter((account) => (inGroup === null || inGroup.has(account.userId)) && matches(account)).slice(0, limit);
    }
    return this.groupAccounts(inGroup ?? new Set(), matches, limit);
  }

  /**
   * A group's members with an active account here: only the directory knows who they are, so
   * each is looked up, a few at a time and only until `limit` match, so listing a large group
   * does not cost one homeserver call per member on every page.
   */
  private async groupAccounts(members: ReadonlySet<string>, matches: (account: LocalAccount) => boolean, limit: number): Promise<LocalAccount[]> {
    const userIds = [...members].sort();
    const step = this.deps.settings.concurrency;
    const found: LocalAccount[] = [];
    for (let start = 0; start < userIds.length && found.length < limit; start += step) {
      const accounts = await mapLimited(userIds.slice(start, start + step), step, (userId) => this.deps.accounts.account(userId));
      found.push(...accounts.filter((account): account is LocalAccount => account !== null && matches(account)));
    }
    return found.slice(0, limit);
  }

  async person(userId: string): Promise<PersonDevices> {
    const account = await this.deps.accounts.account(userId);
    if (!account) throw new HandoverError("NOT_FOUND", `${userId} is not an active account on this homeserver`);
    const [devices, pushers, crossSigning, standing, seen] = await Promise.all([
      this.deps.admin.devices(userId),
      this.deps.admin.pushers(userId),
      this.deps.crossSigning.crossSigned([userId]),
      this.deps.directory.standing([userId]),
      this.deps.watch.firstSeen([userId]),
    ]);
    return personPosture(
      {
        account,
        devices,
        pushers,
        crossSigning: crossSigning.get(userId),
        standing: standing.get(userId) ?? "not-managed",
        firstSeen: seen.devices.get(userId),
        watchingSince: seen.watchingSince,
      },
      this.deps.clock.now(),
      this.deps.settings,
    );
  }

  async signOutDevice(userId: string, deviceId: string, actor: string, reason: string): Promise<SignOutResult> {
    const device = (await this.deps.admin.devices(userId)).find((candidate) => candidate.deviceId === deviceId);
    if (!device) throw new HandoverError("NOT_FOUND", `${userId} has no device ${deviceId}`);
    return this.signOut(userId, [device], false, actor, reason, "devices.device.signed-out");
  }

  /** Lost or stolen phone: every device of the person, so whichever one was lost stops reading. */
  async signOutEverywhere(userId: string, actor: string, reason: string): Promise<SignOutResult> {
    const devices = await this.deps.admin.devices(userId);
    return this.signOut(userId, devices, true, actor, reason, "devices.lost-phone.signed-out");
  }

  private async signOut(
    userId: string,
    devices: readonly DeviceRecord[],
    everywhere: boolean,
    actor: string,
    reason: string,
    action: string,
  ): Promise<SignOutResult> {
    if ((await this.deps.settings.protectedAccounts()).has(userId)) {
      throw new HandoverError("CONFLICT", `${userId} is the account Handover itself works through; its sessions are not ended from here`);
    }
    const deviceIds = devices.map((device) => device.deviceId);
    const before = (await this.deps.admin.pushers(userId)).length;
    if (deviceIds.length > 0) await this.deps.admin.signOut(userId, deviceIds);
    const endedAt = this.deps.clock.now();
    await this.deps.watch.touched([userId], endedAt);
    const remaining = (await this.deps.admin.pushers(userId)).length;
    const result = { userId, signedOut: deviceIds, pushersRemoved: Math.max(0, before - remaining), pushersRemaining: remaining };
    const notice =
      deviceIds.length === 0
        ? "off"
        : await this.deps.notices.notify({
            userId,
            devices: devices.map((device) => ({ deviceId: device.deviceId, displayName: device.displayName })),
            everywhere,
            endedAt,
            reason,
          });
    await this.deps.audit.record({
      actor,
      action,
      target: userId,
      details: { reason, devices: deviceIds, pushersRemoved: result.pushersRemoved, pushersRemaining: remaining, notice },
    });
    return result;
  }

  /** Plans ending every stale session (of people matching `search`); applies it at once unless it is too large. */
  async requestStaleSweep(actor: string, reason: string, search: string | null): Promise<StaleSweep> {
    const protectedAccounts = await this.deps.settings.protectedAccounts();
    const accounts = (await this.deps.accounts.accounts(search, Number.MAX_SAFE_INTEGER)).filter((account) => !protectedAccounts.has(account.userId));
    const now = this.deps.clock.now();
    const perPerson = await mapLimited(accounts, this.deps.settings.concurrency, async (account) =>
      (await this.deps.admin.devices(account.userId))
        .filter((device) => isStale(device, now, this.deps.settings))
        .map((device) => ({ userId: account.userId, deviceId: device.deviceId, lastSeenAt: device.lastSeenAt })),
    );
    const sessions = perPerson.flat();
    const approvalAbove = this.deps.settings.approvalAbove;
    const held = sessions.length > approvalAbove;
    const sweep = await this.deps.sweeps.create({ status: held ? "held" : "applied", requestedBy: actor, requestedAt: now, reason, sessions, approvalAbove });
    await this.deps.audit.record({
      actor,
      action: held ? "devices.stale-sweep.held" : "devices.stale-sweep.requested",
      target: `stale sweep ${sweep.id}`,
      details: { sweep: sweep.id, reason, sessions: sessions.length, approvalAbove, ...(search ? { search } : {}) },
    });
    if (!held) await this.endSessions(sweep, actor);
    return sweep;
  }

  async approveStaleSweep(id: number, actor: string, reason: string): Promise<StaleSweep> {
    const sweep = await this.held(id);
    if (!(await this.deps.sweeps.decide(id, "applied", actor, this.deps.clock.now())))
      throw new HandoverError("CONFLICT", `Stale sweep ${id} was decided meanwhile`);
    await this.deps.audit.record({
      actor,
      action: "devices.stale-sweep.approved",
      target: `stale sweep ${id}`,
      details: { sweep: id, reason, sessions: sweep.sessions.length },
    });
    await this.endSessions(sweep, actor);
    return (await this.deps.sweeps.get(id)) as StaleSweep;
  }

  async rejectStaleSweep(id: number, actor: string, reason: string): Promise<StaleSweep> {
    await this.held(id);
    if (!(await this.deps.sweeps.decide(id, "rejected", actor, this.deps.clock.now())))
      throw new HandoverError("CONFLICT", `Stale sweep ${id} was decided meanwhile`);
    await this.deps.audit.record({ actor, action: "devices.stale-sweep.rejected", target: `stale sweep ${id}`, details: { sweep: id, reason } });
    return (await this.deps.sweeps.get(id)) as StaleSweep;
  }

  listStaleSweeps(): Promise<StaleSweep[]> {
    return this.deps.sweeps.list(50);
  }

  private async held(id: number): Promise<StaleSweep> {
    const sweep = await this.deps.sweeps.get(id);
    if (!sweep) throw new HandoverError("NOT_FOUND", `No stale sweep ${id}`);
    if (sweep.status !== "held") throw new HandoverError("CONFLICT", `Stale sweep ${id} is ${sweep.status}, not held`);
    return sweep;
  }

  /** Ends exactly the sessions the sweep listed (Synapse ignores ones already gone). */
  private async endSessions(sweep: StaleSweep, actor: string): Promise<void> {
    const byUser = new Map<string, string[]>();
    for (const session of sweep.sessions) byUser.set(session.userId, [...(byUser.get(session.userId) ?? []), session.deviceId]);
    await mapLimited([...byUser], this.deps.settings.concurrency, ([userId, deviceIds]) => this.deps.admin.signOut(userId, deviceIds));
    await this.deps.watch.touched([...byUser.keys()], this.deps.clock.now());
    await this.deps.audit.record({
      actor,
      action: "devices.stale-sweep.applied",
      target: `stale sweep ${sweep.id}`,
      details: { sweep: sweep.id, people: byUser.size, sessions: sweep.sessions.length },
    });
  }
}
