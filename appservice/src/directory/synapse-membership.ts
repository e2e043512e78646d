import type { ActualRoom, Membership } from "../domain/directory/planner.js";
import type { AccountControl, MembershipReader, MembershipWriter } from "../domain/directory/ports.js";
import { HandoverError } from "../domain/errors.js";
import type { BotClient } from "../matrix/bot-client.js";
import type { SynapseAdminClient } from "../synapse/admin-client.js";

const MEMBERSHIPS = new Set<Membership>(["join", "invite", "leave", "ban", "knock"]);
/** The level the bot needs to kick, invite and change power levels in any room it manages. */
const MANAGER_LEVEL = 100;

const levelOf = (value: unknown, fallback: number) => (typeof value === "number" ? value : fallback);

/**
 * Directory sync's reads and writes against Synapse: room state through the admin API (it sees
 * rooms the bot is not in yet), membership changes as the bot (no admin endpoint kicks), forced
 * joins, device logout, locking and deactivation through the admin API.
 */
export class SynapseMembership implements MembershipReader, MembershipWriter, AccountControl {
  private adminUserId: string | undefined;

  constructor(
    private readonly admin: SynapseAdminClient,
    private readonly bot: BotClient,
    private readonly botUserId: string,
  ) {}

  async readRoom(roomId: string): Promise<ActualRoom | null> {
    let state: Awaited<ReturnType<SynapseAdminClient["roomState"]>>;
    try {
      state = await this.admin.roomState(roomId);
    } catch (error) {
      if (error instanceof HandoverError && / 404 /.test(error.message)) return null;
      throw error;
    }
    const members = new Map<string, Membership>();
    let power: Record<string, unknown> = {};
    for (const event of state) {
      if (event.type === "m.room.member") {
        const membership = event.content.membership as Membership;
        if (MEMBERSHIPS.has(membership)) members.set(event.state_key, membership);
      } else if (event.type === "m.room.power_levels" && event.state_key === "") {
        power = event.content;
      }
    }
    const users = (power.users ?? {}) as Record<string, number>;
    const usersDefault = levelOf(power.users_default, 0);
    const events = (power.events ?? {}) as Record<string, unknown>;
    const needed = Math.max(
      levelOf(power.kick, 50),
      levelOf(power.invite, 0),
      levelOf(events["m.room.power_levels"], levelOf(power.state_default, 50)),
      MANAGER_LEVEL,
    );
    const botCanManage = members.get(this.botUserId) === "join" && (users[this.botUserId] ?? usersDefault) >= needed;
    return { roomId, members, users, usersDefault, botCanManage };
  }

  async takeRoom(roomId: string): Promise<void> {
    await this.admin.makeRoomAdmin(roomId, this.botUserId);
    // make_room_admin invites the bot where it was not a member; joining again is harmless.
    await this.bot.join(roomId);
  }

  invite(roomId: string, userId: string, reason: string): Promise<void> {
    return this.bot.invite(roomId, userId, reason);
  }

  /**
   * Synapse's join API invites through the admin account, which must be in the room with power
   * to invite. The first forced join into a private room therefore brings the admin account in
   * (the bot invites it, it joins) and retries.
   */
  async forceJoin(roomId: string, userId: string): Promise<void> {
    try {
      await this.admin.forceJoin(roomId, userId);
    } catch (error) {
      if (!(error instanceof HandoverError) || !/ 403 /.test(error.message)) throw error;
      this.adminUserId ??= await this.admin.whoami();
      await this.bot.invite(roomId, this.adminUserId, "Handover: lets the homeserver's join API add directory members");
      await this.admin.joinAsAdmin(roomId);
      await this.admin.forceJoin(roomId, userId);
    }
  }

  kick(roomId: string, userId: string, reason: string): Promise<void> {
    return this.bot.kick(roomId, userId, reason);
  }

  async setUserLevels(roomId: string, levels: { userId: string; level: number }[]): Promise<void> {
    const content = await this.bot.powerLevels(roomId);
    const users = { ...((content.users ?? {}) as Record<string, number>) };
    const usersDefault = levelOf(content.users_default, 0);
    for (const { userId, level } of levels) {
      if (level === usersDefault) delete users[userId];
      else users[userId] = level;
    }
    await this.bot.setState(roomId, "m.room.power_levels", "", { ...content, users });
  }

  async endSessions(userId: string): Promise<number> {
    const devices = await this.admin.listDevices(userId);
    if (devices.length > 0) await this.admin.deleteDevices(userId, devices);
    return devices.length;
  }

  lock(userId: string): Promise<void> {
    return this.admin.lockUser(userId);
  }

  deactivate(userId: string): Promise<void> {
    return this.admin.deactivateUser(userId);
  }
}
