import "./zod-without-eval";
import "nhsuk-frontend/dist/nhsuk/nhsuk-frontend.min.css";
import "./styles.css";
import { createPinia } from "pinia";
import { createApp } from "vue";
import App from "./App.vue";
import { onUnauthenticated } from "./api/http";
import { createPortalRouter } from "./router";
import { useSessionStore } from "./stores/session";

const pinia = createPinia();
const router = createPortalRouter();

// The session ended on the server (expired, revoked, server restarted): forget it here too
// and ask the person to sign in again, coming back to where they were.
onUnauthenticated(() => {
  const session = useSessionStore(pinia);
  if (!session.signedIn) return;
  session.forget();
  const current = router.currentRoute.value;
  if (current.meta.public) return;
  void router.push({ path: "/sign-in", query: { redirect: current.fullPath } });
});

createApp(App).use(pinia).use(router).mount("#app");
