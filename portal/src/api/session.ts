import { API, type Session, type SignInRequest } from "@handover/appservice/contract";
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
