import type { SessionsService } from "../domain/devices/sessions-service.js";
import type { Posture, Session } from "../http/contract.js";
import type { RouteHandlers } from "../http/web-server.js";

type DevicesRoutes = Pick<
  RouteHandlers,
  | "listDevicePeople"
  | "getDevicePerson"
  | "signOutDevice"
  | "signOutLostPhone"
  | "getDevicePosture"
  | "takeDevicePosture"
  | "listStaleSweeps"
  | "requestStaleSweep"
  | "approveStaleSweep"
  | "rejectStaleSweep"
>;

function actorOf(session: Session | null): string {
  if (!session) throw new Error("route table guarantees a session here");
  return session.userId;
}

export interface DevicesHandlerDeps {
  sessions: SessionsService;
  staleAfter: string;
  posture(): Promise<Posture>;
  /** Runs the posture pass now, under the job's lock. */
  takePosture(): Promise<Posture>;
}

export function devicesHandlers({ sessions, staleAfter, posture, takePosture }: DevicesHandlerDeps): DevicesRoutes {
  return {
    getDevicePosture: () => posture(),
    takeDevicePosture: () => takePosture(),
    listDevicePeople: async ({ query }) => ({ people: await sessions.people(query.search || null, query.limit), staleAfter }),
    getDevicePerson: ({ params }) => sessions.person(params.userId),
    signOutDevice: ({ params, body, session }) => sessions.signOutDevice(params.userId, params.deviceId, actorOf(session), body.reason),
    signOutLostPhone: ({ params, body, session }) => sessions.signOutEverywhere(params.userId, actorOf(session), body.reason),
    listStaleSweeps: async () => ({ sweeps: await sessions.listStaleSweeps() }),
    requestStaleSweep: ({ body, session }) => sessions.requestStaleSweep(actorOf(session), body.reason, body.search ?? null),
    approveStaleSweep: ({ params, body, session }) => sessions.approveStaleSweep(params.sweepId, actorOf(session), body.reason),
    rejectStaleSweep: ({ params, body, session }) => sessions.rejectStaleSweep(params.sweepId, actorOf(session), body.reason),
  };
}
