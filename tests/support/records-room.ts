import type { Handover } from "../../appservice/src/app.js";
import { CLASSIFICATION_EVENT_TYPE } from "../../appservice/src/domain/rooms/room.js";
import { eventually, type TestUser } from "./matrix-user.js";

/** Room state that makes a new room clinical (patients are looked up only in clinical rooms); the bot reads it when it joins. */
export const CLINICAL_STATE = { type: CLASSIFICATION_EVENT_TYPE, state_key: "", content: { kind: "clinical" } };
export const CLINICAL_ROOM = { initial_state: [CLINICAL_STATE] };

/** A clinical room with Handover's bot in it, seen through one member, for EHR filing tests. */
export class RecordsRoom {
  constructor(
    readonly roomId: string,
    private readonly member: TestUser,
    private readonly bot: () => Handover,
  ) {}

  async notices(): Promise<string[]> {
    const botUserId = this.bot().botUserId;
    return (await this.member.messages(this.roomId, 200)).filter((event) => event.sender === botUserId).map((event) => String(event.content.body));
  }

  /** Waits for a notice of the bot's (after the first `after`); on time-out, says what the bot did say. */
  async waitForNotice(test: (text: string) => boolean, what: string, after = 0): Promise<string> {
    try {
      return await eventually(what, async () => (await this.notices()).slice(after).find(test), 60_000);
    } catch (error) {
      const said = (await this.notices().catch(() => [])).slice(after).slice(-5);
      throw new Error(`${error instanceof Error ? error.message : String(error)}; the bot said: ${JSON.stringify(said)}`);
    }
  }

  /** A text message from `user`, in the thread under `threadRootId` when given. */
  async send(user: TestUser, body: string, threadRootId?: string): Promise<string> {
    if (!threadRootId) return user.send(this.roomId, body);
    const txn = `t${Date.now()}${Math.random().toString(36).slice(2)}`;
    const relation = { rel_type: "m.thread", event_id: threadRootId, is_falling_back: true, "m.in_reply_to": { event_id: threadRootId } };
    const path = `/rooms/${encodeURIComponent(this.roomId)}/send/m.room.message/${txn}`;
    return (await user.request<{ event_id: string }>("PUT", path, { msgtype: "m.text", body, "m.relates_to": relation })).event_id;
  }

  /**
   * `!handover file` as the member (in a thread when given), then `!handover confirm <code>` as
   * `confirmer`; answers the bot's description. When there is nothing to file, confirms nothing.
   */
  async fileAndConfirm(confirmer: TestUser, threadRootId?: string): Promise<string> {
    const before = (await this.notices()).length;
    await this.send(this.member, "!handover file", threadRootId);
    const described = await this.waitForNotice((text) => text.startsWith("Ready to file") || text.includes("nothing new"), "the filing described", before);
    if (described.includes("nothing new")) return described;
    const code = /!handover confirm ([A-Z0-9]{6})/.exec(described)?.[1];
    if (!code) throw new Error(`no confirmation code in: ${described}`);
    await confirmer.send(this.roomId, `!handover confirm ${code}`);
    return described;
  }
}
