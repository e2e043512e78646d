import { API, type PortalSessionList, type Session, type SignInFlows, type SignInRequest } from "@handover/appservice/contract";
import { request } from "./http";

export function signIn(credentials: SignInRequest): Promise<Session> {
  return request(API.signIn, { body: credentials });
}

export function currentSession(): Promise<Session> {
  return request(API.currentSession);
}

export async function signOut(): Promise<void> {
  await request(API.signOut);
}

/** How this trust's homeserver lets people sign in: a password, single sign-on, or both. */
export function signInFlows(): Promise<SignInFlows> {
  return request(API.signInFlows);
}

/** Who is signed in to the portal now, with where each role comes from (admins only). */
export function listPortalSessions(): Promise<PortalSessionList> {
  return request(API.listPortalSessions);
}
