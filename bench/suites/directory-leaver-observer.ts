import { login, type MatrixUser } from "../../tests/harness/client.js";
import type { TrustInfo } from "../../tests/harness/stack.js";

/**
 * What the leaver bench reads from Synapse, and only from Synapse: a person is out when none of
 * the managed rooms is among the rooms they are joined to (one admin call per look, so watching
 * does not load the homeserver like 100 room reads would) and, for a leaver, their access token
 * gets 401 and they have no devices left.
 */
export class SynapseObserver {
  constructor(private readonly trust: TrustInfo) {}

  private async admin<T>(path: string): Promise<T> {
    const response = await fetch(`${this.trust.clientUrl}/_synapse/admin${path}`, { headers: { authorization: `Bearer ${this.trust.admin.accessToken}` } });
    if (!response.ok) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  }

  async joinedRooms(userId: string): Promise<Set<string>> {
    const answer = await this.admin<{ joined_rooms: string[] }>(`/v1/users/${encodeURIComponent(userId)}/joined_rooms`);
    return new Set(answer.joined_rooms);
  }

  async inManagedRooms(userId: string, rooms: readonly string[]): Promise<number> {
    const joined = await this.joinedRooms(userId);
    return rooms.filter((roomId) => joined.has(roomId)).length;
  }

  async devices(userId: string): Promise<number> {
    return (await this.admin<{ devices: unknown[] }>(`/v2/users/${encodeURIComponent(userId)}/devices`)).devices.length;
  }

  async tokenWorks(accessToken: string): Promise<boolean> {
    const response = await fetch(`${this.trust.clientUrl}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${accessToken}` } });
    await response.arrayBuffer();
    return response.status === 200;
  }

  /** The membership Synapse holds for the person in one room, read from the room's state. */
  async membership(roomId: string, userId: string): Promise<string | undefined> {
    const state = await this.admin<{ state: { type: string; state_key: string; content: { membership?: string } }[] }>(
      `/v1/rooms/${encodeURIComponent(roomId)}/state`,
    );
    return state.state.find((event) => event.type === "m.room.member" && event.state_key === userId)?.content.membership;
  }

  /**
   * Looks every `pollMs` until `done` holds, and returns the milliseconds since `since` at the
   * look that saw it (so the figure includes up to one poll interval of lag, never less).
   */
  async until(since: number, what: string, done: () => Promise<boolean>, timeoutMs = 900_000, pollMs = 50): Promise<number> {
    for (;;) {
      if (await done()) return performance.now() - since;
      if (performance.now() - since > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** The person out of every managed room, and (for a leaver) signed out everywhere. */
  async outMs(since: number, person: { userId: string; session: MatrixUser | null }, rooms: readonly string[]): Promise<number> {
    return this.until(since, `${person.userId} out of ${rooms.length} rooms`, async () => {
      if ((await this.inManagedRooms(person.userId, rooms)) > 0) return false;
      if (!person.session) return true;
      return !(await this.tokenWorks(person.session.accessToken)) && (await this.devices(person.userId)) === 0;
    });
  }

  /** Every managed room's state says `leave` for the person (checked once, after the clock stopped). */
  async leftEveryRoom(userId: string, rooms: readonly string[]): Promise<boolean> {
    for (const roomId of rooms) if ((await this.membership(roomId, userId)) !== "leave") return false;
    return true;
  }

  /** Reads every room's state, `concurrency` at a time, as directory sync does before planning. */
  async readAll(rooms: readonly string[], concurrency: number): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < rooms.length) await this.admin(`/v1/rooms/${encodeURIComponent(rooms[next++] as string)}/state`);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  async forceJoin(roomId: string, userId: string): Promise<void> {
    const response = await fetch(`${this.trust.clientUrl}/_synapse/admin/v1/join/${encodeURIComponent(roomId)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.trust.admin.accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ user_id: userId }),
    });
    if (!response.ok) throw new Error(`join ${roomId} answered ${response.status}: ${await response.text()}`);
  }

  /** Kicks the person from every room as the appservice's bot, `concurrency` at a time. */
  async kickAll(rooms: readonly string[], userId: string, asToken: string, concurrency: number): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < rooms.length) {
        const roomId = rooms[next++] as string;
        const response = await fetch(`${this.trust.clientUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/kick`, {
          method: "POST",
          headers: { authorization: `Bearer ${asToken}`, "content-type": "application/json" },
          body: JSON.stringify({ user_id: userId, reason: "bench: Synapse's own pace" }),
        });
        if (!response.ok) throw new Error(`kick in ${roomId} answered ${response.status}: ${await response.text()}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  signIn(localpart: string, password: string): Promise<MatrixUser> {
    return login(this.trust, localpart, password);
  }
}
