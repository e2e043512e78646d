import type { SessionsService } from "../domain/devices/sessions-service.js";
import type { SpotChecks } from "../domain/devices/spot-checks.js";
import type { HomeserverPushContent, Posture, Session } from "../http/contract.js";
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
  | "listSpotChecks"
  | "startSpotCheck"
  | "getSpotCheck"
  | "recordSpotCheckOutcome"
  | "exportSpotCheckCsv"
  | "exportSpotCheckPdf"
>;

function actorOf(session: Session | null): string {
  if (!session) throw new Error("route table guarantees a session here");
  return session.userId;
}

export interface DevicesHandlerDeps {
  sessions: SessionsService;
  spotChecks: SpotChecks;
  staleAfter: string;
  /** What the homeserver does with content in pushes, and whether a probe or the config says so (brought up to date first). */
  homeserverPush(): Promise<HomeserverPushContent>;
  posture(): Promise<Posture>;
  /** Runs the posture pass now, under the job's lock. */
  takePosture(): Promise<Posture>;
}

export function devicesHandlers({ sessions, spotChecks, staleAfter, homeserverPush, posture, takePosture }: DevicesHandlerDeps): DevicesRoutes {
  return {
    getDevicePosture: () => posture(),
    takeDevicePosture: () => takePosture(),
    listDevicePeople: async ({ query }) => {
      const push = await homeserverPush();
      return { people: await sessions.people(query.search || null, query.limit, query.room ?? null, query.group ?? null), staleAfter, homeserverPush: push };
    },
    getDevicePerson: async ({ params }) => {
      await homeserverPush();
      return sessions.person(params.userId);
    },
    signOutDevice: ({ params, body, session }) => sessions.signOutDevice(params.userId, params.deviceId, actorOf(session), body.reason),
    signOutLostPhone: ({ params, body, session }) => sessions.signOutEverywhere(params.userId, actorOf(session), body.reason),
    listStaleSweeps: async () => ({ sweeps: await sessions.listStaleSweeps() }),
    requestStaleSweep: ({ body, session }) => sessions.requestStaleSweep(actorOf(session), body.reason, body.search ?? null),
    approveStaleSweep: ({ params, body, session }) => sessions.approveStaleSweep(params.sweepId, actorOf(session), body.reason),
    rejectStaleSweep: ({ params, body, session }) => sessions.rejectStaleSweep(params.sweepId, actorOf(session), body.reason),
    listSpotChecks: async () => ({ spotChecks: await spotChecks.list() }),
    startSpotCheck: ({ body, session }) => spotChecks.start("on-demand", actorOf(session), body),
    getSpotCheck: ({ params }) => spotChecks.get(params.spotCheckId),
    recordSpotCheckOutcome: ({ params, body, session }) => spotChecks.record(params.spotCheckId, params.userId, actorOf(session), body),
    exportSpotCheckCsv: ({ params, session }) => spotChecks.csv(params.spotCheckId, actorOf(session)),
    exportSpotCheckPdf: ({ params, session }) => spotChecks.pdf(params.spotCheckId, actorOf(session)),
  };
}
