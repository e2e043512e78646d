import { API, type Role, type RouteContract, type Session, type SignInRequest } from "@handover/appservice/contract";
import { defineStore } from "pinia";
import { computed, readonly, ref, shallowRef } from "vue";
import { ApiError } from "../api/http";
import * as sessionApi from "../api/session";

/** The signed-in person. Views read it; only the actions here change it. */
export const useSessionStore = defineStore("session", () => {
  const current = shallowRef<Session | null>(null);
  const restored = ref(false);

  const signedIn = computed(() => current.value !== null);
  const userId = computed(() => current.value?.userId ?? null);
  const role = computed<Role | null>(() => current.value?.role ?? null);
  // People sign in with an account on the trust's own homeserver, so the server part of
  // their Matrix ID is the trust's server name.
  const serverName = computed(() => current.value?.userId.split(":").slice(1).join(":") ?? null);

  /**
   * Whether the signed-in person may use a route of the API. Read from the route table's
   * `access`, the same table the server enforces, so the portal offers exactly what the server
   * allows and no view restates who may do what. Reactive inside computed() and templates.
   */
  function may(route: keyof typeof API): boolean {
    const access: RouteContract["access"] = API[route].access;
    if (access === "public") return true;
    if (current.value === null) return false;
    return access === "session" || access.includes(current.value.role);
  }
  const canClassifyRooms = computed(() => may("classifyRoom"));

  /** Picks up a session from an earlier visit; once per page load. */
  async function restore(): Promise<void> {
    try {
      current.value = await sessionApi.currentSession();
    } catch (error) {
      // Anything but "not signed in" is left for the sign-in form to report when it is used.
      if (!(error instanceof ApiError)) throw error;
      current.value = null;
    } finally {
      restored.value = true;
    }
  }

  async function signIn(credentials: SignInRequest): Promise<void> {
    current.value = await sessionApi.signIn(credentials);
    restored.value = true;
  }

  async function signOut(): Promise<void> {
    try {
      await sessionApi.signOut();
    } catch (error) {
      // Already expired on the server: the person is signed out either way.
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
    current.value = null;
  }

  /** The server no longer knows the session (expired or revoked). */
  function forget(): void {
    current.value = null;
  }

  return {
    session: readonly(current),
    restored: readonly(restored),
    signedIn,
    userId,
    role,
    serverName,
    canClassifyRooms,
    may,
    restore,
    signIn,
    signOut,
    forget,
  };
});
