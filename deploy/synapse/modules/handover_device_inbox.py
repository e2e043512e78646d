"""Handover's device inbox: lets Handover's bot read the to-device messages Synapse kept for it.

Synapse hands an appservice its to-device messages (room keys) inside transactions (MSC2409),
but while it holds the appservice "down" (Handover restarting, or unreachable) it drops them from
transactions, although they stay in the device's inbox. A client would fetch them with /sync; an
appservice's own user may not sync. This module gives Handover that one missing read, and nothing
more:

    POST /_synapse/client/handover/v1/device_inbox
    Authorization: Bearer <the appservice's as_token>
    {"device_id": "HANDOVER...", "since": 0, "limit": 100}

answers `{"events": [...], "next": <stream position>}` with the messages for that device of the
appservice's sender after `since` (up to the to-device stream's current token, below which every
message is committed), oldest first. As with /sync, asking with `since` acknowledges
(deletes) the messages up to it, so the inbox does not grow forever. Only the appservice's own
sender user's devices can be read, only with the appservice token.

homeserver.yaml:

    modules:
      - module: handover_device_inbox.HandoverDeviceInbox
        config:
          registration_file: /data/handover-registration.yaml   # the appservice registration
"""

import hmac
import json
import logging
from typing import Any, Dict, List, Tuple

import yaml
from synapse.api.errors import Codes, SynapseError
from synapse.http.server import DirectServeJsonResource
from synapse.http.servlet import parse_json_object_from_request
from synapse.module_api import ModuleApi

logger = logging.getLogger(__name__)

PATH = "/_synapse/client/handover/v1/device_inbox"
MAX_LIMIT = 500


class DeviceInboxResource(DirectServeJsonResource):
    def __init__(self, api: ModuleApi, as_token: str, user_id: str):
        super().__init__()
        self._api = api
        # The to-device stream's current token; the module API has no public accessor for it.
        self._store = api._hs.get_datastores().main
        self._token = as_token.encode("utf-8")
        self._user_id = user_id

    def _authorised(self, request: Any) -> bool:
        header = request.getHeader(b"Authorization") or b""
        provided = header[7:] if header.startswith(b"Bearer ") else b""
        return len(provided) > 0 and hmac.compare_digest(provided, self._token)

    async def _async_render_POST(self, request: Any) -> Tuple[int, Dict[str, Any]]:
        if not self._authorised(request):
            raise SynapseError(401, "the appservice token is required", Codes.UNKNOWN_TOKEN)
        body = parse_json_object_from_request(request)
        device_id = body.get("device_id")
        since = body.get("since", 0)
        limit = body.get("limit", 100)
        if not isinstance(device_id, str) or not device_id:
            raise SynapseError(400, "device_id (string) is required", Codes.MISSING_PARAM)
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            raise SynapseError(400, "since must be a non-negative integer", Codes.INVALID_PARAM)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            raise SynapseError(400, f"limit must be an integer from 1 to {MAX_LIMIT}", Codes.INVALID_PARAM)
        # Only up to the stream's current token: ids are handed out by several writers and can
        # commit out of order, and everything at or below the current token is committed. Reading
        # past it could skip a message still being written, which `since` would then delete.
        upper = self._store.get_to_device_stream_token()
        rows = await self._api.run_db_interaction("handover_device_inbox", self._read, device_id, since, upper, limit)
        events: List[Dict[str, Any]] = []
        next_position = since
        if len(rows) < limit:
            # Everything up to `upper` for this device was read.
            next_position = max(since, upper)
        for stream_id, message_json in rows:
            next_position = max(next_position, int(stream_id))
            try:
                events.append(json.loads(message_json))
            except ValueError:
                logger.warning("handover_device_inbox: unreadable message %s for %s skipped", stream_id, device_id)
        return 200, {"events": events, "next": next_position}

    def _read(self, txn: Any, device_id: str, since: int, upper: int, limit: int) -> List[Tuple[int, str]]:
        if since > 0:
            txn.execute(
                "DELETE FROM device_inbox WHERE user_id = ? AND device_id = ? AND stream_id <= ?",
                (self._user_id, device_id, since),
            )
        txn.execute(
            "SELECT stream_id, message_json FROM device_inbox WHERE user_id = ? AND device_id = ? AND stream_id > ? AND stream_id <= ?"
            " ORDER BY stream_id LIMIT ?",
            (self._user_id, device_id, since, upper, limit),
        )
        return [(int(row[0]), str(row[1])) for row in txn.fetchall()]


class HandoverDeviceInbox:
    def __init__(self, config: Dict[str, Any], api: ModuleApi):
        user_id = f"@{config['sender_localpart']}:{api.server_name}"
        api.register_web_resource(PATH, DeviceInboxResource(api, config["as_token"], user_id))

    @staticmethod
    def parse_config(config: Dict[str, Any]) -> Dict[str, Any]:
        registration_file = config.get("registration_file")
        if not registration_file:
            raise Exception("handover_device_inbox: registration_file (Handover's appservice registration) is required")
        with open(registration_file, encoding="utf-8") as handle:
            registration = yaml.safe_load(handle)
        for key in ("as_token", "sender_localpart"):
            if not registration.get(key):
                raise Exception(f"handover_device_inbox: the registration has no {key}")
        return {"as_token": str(registration["as_token"]), "sender_localpart": str(registration["sender_localpart"])}
