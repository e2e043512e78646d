import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import {
  type NoticeOutcome,
  type NoticeWording,
  type SessionEndNotice,
  type SessionEndNotifier,
  sessionEndNoticeText,
} from "../domain/devices/session-notice.js";
import type { BotClient } from "../matrix/bot-client.js";

type NoticeBot = Pick<BotClient, "createRoom" | "postNotice" | "stateContent">;

/**
 * Sends the session-end notice from the bot into a direct room Handover keeps with each person
 * (device_notice_rooms). Handover creates that room unencrypted: the notice carries no patient
 * data, and after a lost phone the person has no device left that an encrypted message could be
 * shared with, so a new device could never read it. Should the room have been encrypted since,
 * the bot's notice is encrypted for the person's remaining devices (BotClient.postNotice).
 */
export class BotSessionNotices implements SessionEndNotifier {
  constructor(
    private readonly bot: NoticeBot,
    private readonly db: DataSource,
    private readonly logger: Logger,
    private readonly settings: NoticeWording & { enabled: boolean },
  ) {}

  async notify(notice: SessionEndNotice): Promise<NoticeOutcome> {
    if (!this.settings.enabled) return "off";
    try {
      const roomId = await this.roomWith(notice.userId);
      const key = `session-end:${notice.userId}:${notice.endedAt.toISOString()}:${notice.devices.map((device) => device.deviceId).join(",")}`;
      await this.bot.postNotice(roomId, sessionEndNoticeText(notice, this.settings), key);
      return "sent";
    } catch (error) {
      this.logger.warn({ err: error, userId: notice.userId }, "devices: could not send the session-end notice");
      return "failed";
    }
  }

  /** The person's direct room with the bot, made anew when they left it (or it is gone). */
  private async roomWith(userId: string): Promise<string> {
    const [known] = (await this.db.query("SELECT room_id FROM device_notice_rooms WHERE user_id = $1", [userId])) as { room_id: string }[];
    if (known && (await this.stillThere(known.room_id, userId))) return known.room_id;
    const roomId = await this.bot.createRoom({
      preset: "private_chat",
      is_direct: true,
      invite: [userId],
      name: "Handover: your sessions",
      topic: "Notices from your trust about your Matrix sessions. No patient information is sent here.",
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "shared" } }],
    });
    await this.db.query("INSERT INTO device_notice_rooms (user_id, room_id) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id", [
      userId,
      roomId,
    ]);
    return roomId;
  }

  private async stillThere(roomId: string, userId: string): Promise<boolean> {
    try {
      const member = await this.bot.stateContent(roomId, "m.room.member", userId);
      return member?.membership === "join" || member?.membership === "invite";
    } catch {
      return false;
    }
  }
}
