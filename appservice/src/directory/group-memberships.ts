import type { DirectoryGroupMemberships } from "../domain/access/group-roles.js";
import type { DirectoryGroupMembers } from "../domain/devices/model.js";
import type { DesiredState } from "../domain/directory/desired.js";

type People = DesiredState["people"];

/**
 * The directory's answer to "which groups is this person in now", for portal roles from groups
 * (`access.roleGroups`). Every source is read (as a sync run reads them) at most once per
 * `maxAgeMs`, and at once after a SCIM push, a CSV import or a run: someone removed from a
 * group loses the role on their next request after the directory says so.
 */
export class DirectoryGroupLookup implements DirectoryGroupMemberships, DirectoryGroupMembers {
  private cached: { at: number; people: People } | null = null;
  private loading: Promise<People> | null = null;
  private generation = 0;

  constructor(
    private readonly desired: () => Promise<DesiredState>,
    private readonly now: () => number,
    private readonly maxAgeMs: number,
  ) {}

  /** The directory changed: the next question reads it again. */
  invalidate(): void {
    this.generation++;
    this.cached = null;
    this.loading = null;
  }

  async membershipsOf(userId: string): Promise<{ groups: ReadonlySet<string>; source: string } | null> {
    const person = (await this.people()).get(userId);
    return person ? { groups: person.groups, source: person.source } : null;
  }

  async membersOf(group: string): Promise<ReadonlySet<string>> {
    const key = group.toLowerCase();
    const members = new Set<string>();
    for (const [userId, person] of await this.people()) if (person.groups.has(key)) members.add(userId);
    return members;
  }

  private people(): Promise<People> {
    if (this.cached && this.now() - this.cached.at < this.maxAgeMs) return Promise.resolve(this.cached.people);
    if (this.loading) return this.loading;
    const generation = this.generation;
    const at = this.now();
    const loading = this.desired().then(
      (state) => {
        // An answer read before the directory changed is not kept.
        if (generation === this.generation) this.cached = { at, people: state.people };
        if (this.loading === loading) this.loading = null;
        return state.people;
      },
      (error: unknown) => {
        if (this.loading === loading) this.loading = null;
        throw error;
      },
    );
    this.loading = loading;
    return loading;
  }
}
