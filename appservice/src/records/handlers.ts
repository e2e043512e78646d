import type { AuditRecorder } from "../domain/audit/audit-trail.js";
import { HandoverError } from "../domain/errors.js";
import type { Filing, FilingStore } from "../domain/records/filing.js";
import type { FilingAttempts } from "../domain/records/filing-attempts.js";
import type { FilingRequests } from "../domain/records/filing-requests.js";
import type { PatientLink, PatientLinkStore } from "../domain/records/patient.js";
import type { PatientLinking } from "../domain/records/patient-linking.js";
import type { PatientLookupGate } from "../domain/records/patient-lookup-gate.js";
import type { RoomStore } from "../domain/rooms/room.js";
import type { FilingSummary, PatientLinkSummary, Session } from "../http/contract.js";
import type { RouteHandlers } from "../http/web-server.js";

export interface RecordsApiServices {
  filings: FilingStore;
  requests: FilingRequests;
  attempts: FilingAttempts;
  links: PatientLinkStore;
  linking: PatientLinking;
  /** Null when `records.patientLookup` is not configured. */
  lookups: PatientLookupGate | null;
  rooms: Pick<RoomStore, "get">;
  audit: AuditRecorder;
}

function signedIn(session: Session | null): Session {
  if (!session) throw new Error("route table guarantees a session here");
  return session;
}

const iso = (date: Date | null) => date?.toISOString() ?? null;

type Handlers = Pick<
  RouteHandlers,
  "listFilings" | "requestFiling" | "confirmFiling" | "retryFiling" | "downloadFiledPdf" | "listPatientLinks" | "linkPatient" | "searchPatientLookups"
>;

/** Handlers of the records routes: validate (the contract did), call one service, map the result. */
export function recordsHandlers(services: RecordsApiServices): Handlers {
  const roomName = async (roomId: string) => (await services.rooms.get(roomId))?.name ?? null;
  const summary = async (filing: Filing): Promise<FilingSummary> => ({
    exportId: filing.exportId,
    roomId: filing.roomId,
    roomName: await roomName(filing.roomId),
    threadRootId: filing.threadRootId,
    patient: filing.patient,
    status: filing.status,
    messageCount: filing.messageCount,
    firstAt: filing.firstTs.toISOString(),
    lastAt: filing.upToTs.toISOString(),
    requestedBy: filing.requestedBy,
    requestedAt: filing.requestedAt.toISOString(),
    confirmedBy: filing.confirmedBy,
    attempts: filing.attempts,
    nextAttemptAt: iso(filing.nextAttemptAt),
    lastError: filing.lastError,
    filedAt: iso(filing.filedAt),
    receipt: filing.receipt,
  });
  const linkSummary = async (link: PatientLink): Promise<PatientLinkSummary> => ({
    roomId: link.roomId,
    roomName: await roomName(link.roomId),
    threadRootId: link.threadRootId,
    patient: link.patient,
    linkedBy: link.linkedBy,
    linkedAt: link.linkedAt.toISOString(),
  });
  const existing = async (exportId: string) => {
    const filing = await services.filings.get(exportId);
    if (!filing) throw new HandoverError("NOT_FOUND", `No filing ${exportId}`);
    return filing;
  };
  return {
    listFilings: async () => ({ filings: await Promise.all((await services.filings.list(200)).map(summary)) }),
    requestFiling: async ({ body, session }) =>
      summary(await services.requests.request(body.roomId, body.threadRootId ?? null, signedIn(session).userId, "portal")),
    confirmFiling: async ({ params, session }) => {
      const confirmed = await services.requests.confirm(await existing(params.exportId), signedIn(session).userId, "portal");
      return summary((await services.attempts.attempt(confirmed.exportId)) ?? confirmed);
    },
    retryFiling: async ({ params, session }) =>
      summary((await services.attempts.retryNow(params.exportId, signedIn(session).userId)) ?? (await existing(params.exportId))),
    downloadFiledPdf: async ({ params, session }) => {
      const filing = await existing(params.exportId);
      const document = filing.status === "filed" ? await services.filings.document(filing.exportId) : null;
      if (!document) throw new HandoverError("NOT_FOUND", "This filing has no filed PDF (it has not been filed).");
      await services.audit.record({
        actor: signedIn(session).userId,
        action: "records.pdf_downloaded",
        target: filing.roomId,
        details: { exportId: filing.exportId },
      });
      return { filename: `handover-${filing.exportId}.pdf`, contentType: "application/pdf" as const, data: Buffer.from(document.pdf).toString("base64") };
    },
    listPatientLinks: async () => ({ links: await Promise.all((await services.links.list()).map(linkSummary)) }),
    linkPatient: async ({ params, body, session }) => {
      const room = await services.rooms.get(params.roomId);
      if (room?.botMembership !== "join") throw new HandoverError("NOT_FOUND", `Handover's bot is not in room ${params.roomId}`);
      const { link, lookup } = await services.linking.link(params.roomId, body.threadRootId ?? null, body.nhsNumber, signedIn(session).userId, "portal");
      return { link: await linkSummary(link), lookup };
    },
    searchPatientLookups: async ({ body, session }) => {
      if (!services.lookups) throw new HandoverError("CONFLICT", "Patient lookups are not set up for this trust (records.patientLookup in Handover's config).");
      const { nhsNumberHash, lookups } = await services.lookups.whoLookedUp(body.nhsNumber, signedIn(session).userId, 500);
      return {
        nhsNumberHash,
        lookups: await Promise.all(
          lookups.map(async (entry) => ({
            actor: entry.actor,
            roomId: entry.roomId,
            roomName: await roomName(entry.roomId),
            threadRootId: entry.threadRootId,
            outcome: entry.outcome,
            via: entry.via,
            at: entry.at.toISOString(),
          })),
        ),
      };
    },
  };
}
