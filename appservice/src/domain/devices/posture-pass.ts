import type { Clock } from "../clock.js";
import type { CrossSigningReader, DeviceAdmin, DirectoryStandingReader, LocalAccount } from "./model.js";
import type { PersonDevices } from "./person-devices.js";
import { type PostureSettings, personPosture } from "./posture.js";
import type { PostureCounts } from "./posture-metrics.js";
import { mapLimited } from "./sessions-service.js";
import type { DeviceSightings, PersonFactsRecord, PostureWatch, WatchedPerson } from "./watch.js";

/** One day's trust-wide counts; a later pass on the same day replaces the earlier one. */
export interface PostureSnapshotStore {
  save(snapshot: PostureSnapshot): Promise<void>;
  /** Newest first. */
  recent(days: number): Promise<PostureSnapshot[]>;
}

export interface PostureSnapshot {
  day: string;
  takenAt: Date;
  counts: PostureCounts;
  /** Synapse admin API calls the pass made (devices, pushers, account pages). */
  adminCalls: number;
  /** "full" read everyone; "incremental" only people whose state can have changed since the last pass. */
  kind: PassKind;
  /** People whose devices and pushers the pass read from Synapse (the rest came from the last read). */
  peopleRead: number;
}

export type PassKind = "full" | "incremental";

/** A local account as the paged listing gives it, with the homeserver's "last seen" when it has one. */
export type ListedAccount = LocalAccount & { lastSeenTs?: number | null };

/** Pages through every local account; the pass reads one page of people at a time. */
export interface AccountPages {
  pages(pageSize: number): AsyncIterable<ListedAccount[]>;
}

export interface PosturePassDeps {
  accounts: AccountPages;
  admin: Pick<DeviceAdmin, "devices" | "pushers">;
  crossSigning: CrossSigningReader;
  directory: DirectoryStandingReader;
  snapshots: PostureSnapshotStore;
  watch: PostureWatch;
  sightings: Pick<DeviceSightings, "sighted">;
  clock: Clock;
  settings: PostureSettings & {
    concurrency: number;
    excluded(): Promise<ReadonlySet<string>>;
    /** A pass reads everyone when the last full pass is older than this; between them, only people who can have changed. */
    fullEveryMs: number;
    /**
     * How long after a recorded "last seen" the homeserver may record no more use of the same
     * session (Synapse: two minutes per token and address), plus an allowance for the two
     * clocks. A change made in that time does not move "last seen", so a read that began before
     * it had passed is not trusted: the person is read again until a read begins after it.
     */
    lastSeenSettlesMs: number;
  };
}

export const emptyCounts = (): PostureCounts => ({
  people: 0,
  peopleWithDevices: 0,
  devices: 0,
  devicesCrossSigned: 0,
  pushers: 0,
  pushersCarryingContent: 0,
  staleSessions: 0,
  leavers: 0,
  leaversWithSessions: 0,
});

function addPerson(counts: PostureCounts, person: PersonDevices): void {
  counts.people++;
  if (person.devices.length > 0) counts.peopleWithDevices++;
  counts.devices += person.devices.length;
  counts.devicesCrossSigned += person.devices.length - person.devicesNotCrossSigned;
  counts.pushers += person.pushers.length;
  counts.pushersCarryingContent += person.pushersCarryingContent;
  counts.staleSessions += person.staleSessions;
  if (person.directory === "left") {
    counts.leavers++;
    if (person.devices.length > 0) counts.leaversWithSessions++;
  }
}

/**
 * Whether a person's devices, pushers or cross-signing can have changed since their last read.
 * Every one of those changes is a request with one of the person's access tokens, which moves
 * the homeserver's "last seen" for them (Synapse's users list) unless the same session's use was
 * recorded moments before, in which case the last read is trusted only if it began once that
 * moment had settled; sign-outs Handover makes itself mark the person as touched. Anything else
 * (an admin deleting a device behind Handover's back) waits for the next full pass.
 */
function mayHaveChanged(account: ListedAccount, watched: WatchedPerson | undefined, lastSeenSettlesMs: number): boolean {
  if (watched === undefined || watched.touchedSinceRead || account.lastSeenTs === undefined || account.lastSeenTs !== watched.lastSeenTs) return true;
  return watched.lastSeenTs !== null && watched.readAt.getTime() < watched.lastSeenTs + lastSeenSettlesMs;
}

/**
 * The trust-wide posture: every person's devices, pushers and cross-signing, counted. Runs in
 * the background, a page of people at a time with a bounded number of admin calls in flight, so
 * clinicians' requests to Synapse are never queued behind it. Most passes are incremental: the
 * account listing (one call per 100 people) says who was active since their last read, and only
 * they are read again; everyone else is counted from what the last read found (staleness and
 * directory standing are worked out afresh each time). A full pass now and then reads everyone.
 */
export class PosturePass {
  constructor(private readonly deps: PosturePassDeps) {}

  async run(requested: PassKind | "due" = "due"): Promise<PostureSnapshot> {
    const now = this.deps.clock.now();
    const kind = requested === "due" ? await this.dueKind(now) : requested;
    const counts = emptyCounts();
    let adminCalls = 0;
    let peopleRead = 0;
    const excluded = await this.deps.settings.excluded();
    const watched = await this.deps.watch.load();
    const listed: string[] = [];
    for await (const page of this.deps.accounts.pages(100)) {
      adminCalls++;
      const people = page.filter((account) => !excluded.has(account.userId));
      listed.push(...people.map((account) => account.userId));
      if (people.length === 0) continue;
      const toRead =
        kind === "full" ? people : people.filter((account) => mayHaveChanged(account, watched.get(account.userId), this.deps.settings.lastSeenSettlesMs));
      const fresh = await this.read(toRead);
      adminCalls += 2 * toRead.length;
      peopleRead += toRead.length;
      const standing = await this.deps.directory.standing(people.map((account) => account.userId));
      for (const account of people) {
        const facts = fresh.get(account.userId) ?? (watched.get(account.userId)?.facts as PersonFactsRecord);
        addPerson(counts, personPosture({ account, ...facts, standing: standing.get(account.userId) ?? "not-managed" }, now, this.deps.settings));
      }
    }
    await this.deps.watch.keepOnly(listed);
    if (kind === "full") await this.deps.watch.fullPassDone(now);
    const snapshot = { day: now.toISOString().slice(0, 10), takenAt: now, counts, adminCalls, kind, peopleRead };
    await this.deps.snapshots.save(snapshot);
    return snapshot;
  }

  private async dueKind(now: Date): Promise<PassKind> {
    const lastFull = await this.deps.watch.lastFullPassAt();
    return lastFull === null || now.getTime() - lastFull.getTime() >= this.deps.settings.fullEveryMs ? "full" : "incremental";
  }

  /** Reads these people's devices, pushers and cross-signing, keeps them for the next pass, and records devices seen for the first time. */
  private async read(accounts: readonly ListedAccount[]): Promise<Map<string, PersonFactsRecord>> {
    if (accounts.length === 0) return new Map();
    const readStartedAt = this.deps.clock.now();
    const crossSigning = await this.deps.crossSigning.crossSigned(accounts.map((account) => account.userId));
    const read = await mapLimited(accounts, this.deps.settings.concurrency, async (account) => {
      const [devices, pushers] = await Promise.all([this.deps.admin.devices(account.userId), this.deps.admin.pushers(account.userId)]);
      return { userId: account.userId, lastSeenTs: account.lastSeenTs ?? null, facts: { devices, pushers, crossSigning: crossSigning.get(account.userId) } };
    });
    // Sightings before the read is kept: a pass stopped between the two then reads these people
    // again (recording a sighting twice changes nothing), where the other order would leave their
    // new devices without a first sighting until a full pass.
    await this.deps.sightings.sighted(
      read.flatMap((person) => person.facts.devices.map((device) => ({ userId: person.userId, deviceId: device.deviceId }))),
      readStartedAt,
    );
    await this.deps.watch.save(read, readStartedAt);
    return new Map(read.map((person) => [person.userId, person.facts]));
  }
}
