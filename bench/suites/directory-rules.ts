import type { DirectoryGroup, SyncRule } from "../../appservice/src/domain/directory/model.js";

/** The benches' rule set: each group manages one room of its own; consultants moderate. */
export function oneRoomPerGroup(groups: Pick<DirectoryGroup, "name">[], server: string): SyncRule[] {
  return groups.map((group, index) => ({
    id: `r${index}`,
    description: "",
    group: group.name,
    attribute: null,
    rooms: [`!room${index}:${server}`],
    joinMode: "invite",
    power: [{ attribute: "title", equals: "consultant", level: 50 }],
    enabled: true,
  }));
}
