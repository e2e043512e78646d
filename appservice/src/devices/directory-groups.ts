import type { DirectoryGroupMembers } from "../domain/devices/model.js";
import { HandoverError } from "../domain/errors.js";

/**
 * Directory sync's groups, asked for when needed (capabilities are built in turn, so directory
 * sync may come after devices). Without a synced directory a group is refused with a clear error
 * rather than answered with nobody, which would read as an empty group.
 */
export function directoryGroupsWhenSynced(directory: () => DirectoryGroupMembers | null): DirectoryGroupMembers {
  return {
    membersOf: async (group) => {
      const groups = directory();
      if (groups === null) throw new HandoverError("VALIDATION_FAILED", "No directory is synced, so Handover knows no directory groups to narrow to");
      return groups.membersOf(group);
    },
  };
}
