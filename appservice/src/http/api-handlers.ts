import type { PortalSignIn } from "../domain/access/sign-in.js";
import type { AuditTrail } from "../domain/audit/audit-trail.js";
import { HandoverError } from "../domain/errors.js";
import type { Room, RoomStore } from "../domain/rooms/room.js";
import type { RoomClassifier } from "../domain/rooms/room-classifier.js";
import type { Overview, RoomSummary, Session, SignInFlows } from "./contract.js";
import type { RouteHandlers } from "./web-server.js";

export interface ApiServices {
  signIn: PortalSignIn;
  signInFlows(): Promise<SignInFlows>;
  rooms: RoomStore;
  classifier: RoomClassifier;
  audit: AuditTrail;
  overview(): Promise<Overview>;
}

export function roomSummary(room: Room): RoomSummary {
  return {
    roomId: room.roomId,
    name: room.name,
    kind: room.kind,
    encrypted: room.encrypted,
    botJoined: room.botMembership === "join",
    classifiedBy: room.classifiedBy,
    classifiedAt: room.classifiedAt?.toISOString() ?? null,
  };
}

/** Signed-in routes always have a session; this narrows the type where the table guarantees it. */
function signedIn(session: Session | null): Session {
  if (!session) throw new Error("route table guarantees a session here");
  return session;
}

/** Handlers of the core routes; capabilities bring their own. */
export function apiHandlers(services: ApiServices): Partial<RouteHandlers> {
  return {
    signIn: async ({ body, setSession, clientAddress }) => {
      const { token, session } = await services.signIn.signIn(body.username, body.password, clientAddress);
      setSession(token, new Date(session.expiresAt));
      return session;
    },
    signInFlows: async () => services.signInFlows(),
    listPortalSessions: async () => ({
      sessions: (await services.signIn.liveSessions()).map(({ session, signedInAt }) => ({ ...session, signedInAt: signedInAt.toISOString() })),
    }),
    currentSession: async ({ session }) => signedIn(session),
    signOut: async ({ session, sessionToken, clearSession }) => {
      if (sessionToken) await services.signIn.signOut(sessionToken, signedIn(session).userId);
      clearSession();
      return {};
    },
    overview: async () => services.overview(),
    listRooms: async () => ({ rooms: (await services.rooms.list()).map(roomSummary) }),
    getRoom: async ({ params }) => {
      const room = await services.rooms.get(params.roomId);
      if (room === null || room.botMembership === "leave") throw new HandoverError("NOT_FOUND", `Handover's bot is not in room ${params.roomId}`);
      return roomSummary(room);
    },
    classifyRoom: async ({ params, body, session }) =>
      roomSummary(await services.classifier.classify(params.roomId, body.kind, signedIn(session).userId, "portal")),
    listAudit: async ({ query }) => services.audit.page(query),
    verifyAudit: async () => services.audit.verify(),
  };
}
