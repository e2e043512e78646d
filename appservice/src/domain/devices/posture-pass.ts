import type { Clock } from "../clock.js";
import type { CrossSigningReader, DeviceAdmin, DirectoryStandingReader, LocalAccount } from "./model.js";
import { type PostureSettings, personPosture } from "./posture.js";
import type { PostureCounts } from "./posture-metrics.js";
import { mapLimited } from "./sessions-service.js";

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
}

/** Pages through every local account; the pass reads one page of people at a time. */
export interface AccountPages {
  pages(pageSize: number): AsyncIterable<LocalAccount[]>;
}

export interface PosturePassDeps {
  accounts: AccountPages;
  admin: Pick<DeviceAdmin, "devices" | "pushers">;
  crossSigning: CrossSigningReader;
  directory: DirectoryStandingReader;
  snapshots: PostureSnapshotStore;
  clock: Clock;
  settings: PostureSettings & { concurrency: number; excluded(): Promise<ReadonlySet<string>> };
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

/**
 * The trust-wide posture: every person's devices, pushers and cross-signing, counted. Runs in
 * the background (a daily job), a page of people at a time with a bounded number of admin calls
 * in flight, so clinicians' requests to Synapse are never queued behind it.
 */
export class PosturePass {
  constructor(private readonly deps: PosturePassDeps) {}

  async run(): Promise<PostureSnapshot> {
    const counts = emptyCounts();
    let adminCalls = 0;
    const excluded = await this.deps.settings.excluded();
    const now = this.deps.clock.now();
    for await (const page of this.deps.accounts.pages(100)) {
      adminCalls++;
      const people = page.filter((account) => !excluded.has(account.userId));
      if (people.length === 0) continue;
      const userIds = people.map((account) => account.userId);
      const [crossSigning, standing] = await Promise.all([this.deps.crossSigning.crossSigned(userIds), this.deps.directory.standing(userIds)]);
      const postures = await mapLimited(people, this.deps.settings.concurrency, async (account) => {
        const [devices, pushers] = await Promise.all([this.deps.admin.devices(account.userId), this.deps.admin.pushers(account.userId)]);
        adminCalls += 2;
        return personPosture(
          { account, devices, pushers, crossSigning: crossSigning.get(account.userId), standing: standing.get(account.userId) ?? "not-managed" },
          now,
          this.deps.settings,
        );
      });
      for (const person of postures) {
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
    }
    const snapshot = { day: now.toISOString().slice(0, 10), takenAt: now, counts, adminCalls };
    await this.deps.snapshots.save(snapshot);
    return snapshot;
  }
}
