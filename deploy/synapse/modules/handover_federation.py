"""Handover's federation gate: a Synapse module that enforces the trust's federation agreements.

Synapse asks it, through spam-checker callbacks, whether an invite or a join may go ahead. It
asks Handover (on Handover's appservice listener, authenticated with the homeserver token from
the appservice registration file Synapse already reads) which servers have an active
agreement, caches the answer for `cache_ttl_seconds`, and refuses:

- invites from local users to users of servers without an agreement (user_may_invite), and
  invites into rooms hosted on such servers;
- invites from users of servers without an agreement (federated_user_may_invite);
- local users joining rooms hosted on servers without an agreement (user_may_join_room);

and it drops events arriving over federation from servers without an agreement, in any room
(should_drop_federated_event), but only while it knows the policy.

When Handover cannot be asked, `fail_open` decides: false (the default) refuses everything that
involves another server; true lets it through. Handover running without a `federation` section
answers `enforce: false`, and then nothing is refused.

Handover being slow or down must not hold up Synapse: at most one question is in flight (every
other caller waits for that answer), it gives up after `timeout_seconds`, and a failure is
remembered for `failure_ttl_seconds`, so a run of events costs one timeout, not one each. A room
ID without a server part (room version 12) is a room of unknown host: treated like a server
without an agreement, not as this server.

homeserver.yaml:

    modules:
      - module: handover_federation.HandoverFederationGate
        config:
          registration_file: /data/handover-registration.yaml   # the appservice registration
          # handover_url: http://handover:9000   # default: the registration's url
          cache_ttl_seconds: 15
          timeout_seconds: 3
          failure_ttl_seconds: 5
          fail_open: false
"""

import logging
import time
from typing import Any, Dict, List, Optional, Tuple

import yaml
from synapse.api.errors import Codes
from synapse.module_api import NOT_SPAM, ModuleApi, make_deferred_yieldable, run_in_background
from twisted.internet import defer, reactor

logger = logging.getLogger(__name__)

ALLOWED_SERVERS_PATH = "/_handover/federation/v1/allowed-servers"


def server_of(matrix_id: str) -> str:
    """The server name part of a user or room ID ('' for room IDs without one)."""
    _, _, server = matrix_id.partition(":")
    return server


# A room ID with no server part (room version 12): where the room lives is unknown, and an
# unknown host is never "this server" nor a partner.
UNKNOWN_HOST = "<unknown host>"


def room_host(room_id: str) -> str:
    return server_of(room_id) or UNKNOWN_HOST


class Policy:
    def __init__(self, enforce: bool, allowed: List[str]):
        self.enforce = enforce
        self.allowed = frozenset(allowed)


class HandoverFederationGate:
    def __init__(self, config: Dict[str, Any], api: ModuleApi):
        self._api = api
        self._own = api.server_name
        self._ttl = float(config["cache_ttl_seconds"])
        self._timeout = float(config["timeout_seconds"])
        self._failure_ttl = float(config["failure_ttl_seconds"])
        self._fail_open = bool(config["fail_open"])
        self._url = config["handover_url"].rstrip("/") + ALLOWED_SERVERS_PATH
        self._token = config["hs_token"]
        # (when asked, the policy or None for "could not ask"): a failure is cached too.
        self._cached: Optional[Tuple[float, Optional[Policy]]] = None
        # Callers waiting for the one question in flight; None when nothing is in flight.
        self._waiters: Optional[List["defer.Deferred[Optional[Policy]]"]] = None
        api.register_spam_checker_callbacks(
            user_may_invite=self.user_may_invite,
            federated_user_may_invite=self.federated_user_may_invite,
            user_may_join_room=self.user_may_join_room,
            should_drop_federated_event=self.should_drop_federated_event,
        )

    @staticmethod
    def parse_config(config: Dict[str, Any]) -> Dict[str, Any]:
        registration_file = config.get("registration_file")
        if not registration_file:
            raise Exception("handover_federation: registration_file (Handover's appservice registration) is required")
        with open(registration_file, encoding="utf-8") as handle:
            registration = yaml.safe_load(handle)
        url = config.get("handover_url") or registration.get("url")
        if not url:
            raise Exception("handover_federation: no handover_url and the registration has no url")
        return {
            "handover_url": str(url),
            "hs_token": str(registration["hs_token"]),
            "cache_ttl_seconds": float(config.get("cache_ttl_seconds", 15)),
            "timeout_seconds": float(config.get("timeout_seconds", 3)),
            "failure_ttl_seconds": float(config.get("failure_ttl_seconds", 5)),
            "fail_open": bool(config.get("fail_open", False)),
        }

    async def _policy(self) -> Optional[Policy]:
        now = time.monotonic()
        if self._cached is not None:
            asked_at, policy = self._cached
            if now - asked_at < (self._ttl if policy is not None else self._failure_ttl):
                return policy
        if self._waiters is not None:
            # Someone is asking already: wait for that answer rather than ask again.
            waiter: "defer.Deferred[Optional[Policy]]" = defer.Deferred()
            self._waiters.append(waiter)
            return await make_deferred_yieldable(waiter)
        self._waiters = []
        policy: Optional[Policy] = None
        try:
            policy = await self._ask()
        finally:
            # Whatever happened (even a cancelled request), the waiters get an answer.
            self._cached = (time.monotonic(), policy)
            waiters, self._waiters = self._waiters, None
            for waiter in waiters:
                waiter.callback(policy)
        return policy

    async def _ask(self) -> Optional[Policy]:
        try:
            request = run_in_background(
                self._api.http_client.get_json, self._url, headers={b"Authorization": [f"Bearer {self._token}".encode("ascii")]}
            )
            # Synapse's own HTTP timeout is a minute; a healthy Handover answers at once.
            request.addTimeout(self._timeout, reactor)
            answer = await make_deferred_yieldable(request)
            return Policy(bool(answer.get("enforce", True)), [str(s) for s in answer.get("allowed_servers", [])])
        except Exception as error:  # noqa: BLE001 - any failure to ask is the same to us
            logger.warning("handover_federation: could not ask Handover at %s: %s", self._url, error)
            return None

    async def _allowed(self, server: str) -> bool:
        if server == self._own:
            return True
        policy = await self._policy()
        if policy is None:
            return self._fail_open
        return not policy.enforce or server in policy.allowed

    def _refuse(self, why: str):
        logger.info("handover_federation: refused: %s", why)
        return (Codes.FORBIDDEN, {"error": f"No federation agreement: {why}"})

    async def user_may_invite(self, inviter: str, invitee: str, room_id: str):
        if not await self._allowed(server_of(invitee)):
            return self._refuse(f"{server_of(invitee)} is not a partner of this trust")
        if not await self._allowed(room_host(room_id)):
            return self._refuse(f"the room is hosted on {room_host(room_id)}, not a partner of this trust")
        return NOT_SPAM

    async def federated_user_may_invite(self, event: Any):
        sender = server_of(event.sender)
        if not await self._allowed(sender):
            return self._refuse(f"{sender} is not a partner of this trust")
        if not await self._allowed(room_host(event.room_id)):
            return self._refuse(f"the room is hosted on {room_host(event.room_id)}, not a partner of this trust")
        return NOT_SPAM

    async def should_drop_federated_event(self, event: Any) -> bool:
        """Drops events sent by servers without an agreement, in every room, Handover's or not
        (direct chats too): a revocation takes effect at once. Only on a known policy: while
        Handover cannot be asked nothing is dropped, so an outage of Handover does not cut every
        federated room."""
        sender = server_of(str(getattr(event, "sender", "")))
        if sender in ("", self._own):
            return False
        policy = await self._policy()
        if policy is None or not policy.enforce or sender in policy.allowed:
            return False
        logger.info("handover_federation: dropped event %s from %s (no agreement)", getattr(event, "event_id", "?"), sender)
        return True

    async def user_may_join_room(self, user: str, room_id: str, is_invited: bool):
        if not await self._allowed(room_host(room_id)):
            return self._refuse(f"the room is hosted on {room_host(room_id)}, not a partner of this trust")
        return NOT_SPAM
