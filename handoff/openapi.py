"""The hub's OpenAPI 3 description: the front end's contract.

Paths and their answers are written here; the schemas of what the hub sends come from
``handoff.shapes`` (the module that builds every JSON shape), so they cannot drift apart.
A test holds the paths to the routes the app really has (both ways), and limits come from the
settings (``maxLength`` of message text is ``HUB_MAX_MESSAGE_CHARS``)."""

from __future__ import annotations

import copy
from typing import Any

from handoff import shapes
from handoff.router import SKILLS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return {"required": True, "content": {"application/json": {"schema": schema}}}


ERR = {"$ref": "#/components/responses/Error"}
OK = _json({"type": "object", "properties": {"ok": {"type": "boolean"}}})
STR = {"type": "string"}
INT = {"type": "integer"}
CONV_ID = {"name": "id", "in": "path", "required": True, "schema": STR}
NUM_ID = {"name": "id", "in": "path", "required": True, "schema": INT}
RANGE = [{"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
          "description": "first day (shop time zone); default: 6 days before to"},
         {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
          "description": "last day, included; default: today"}]


def _op(summary: str, responses: dict[str, Any], *, tags: list[str], security: list | None = None,
        body: dict | None = None, params: list | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": tags, "responses": responses}
    if security is not None:
        op["security"] = security
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    return op


CUSTOMER = [{"conversationToken": []}]
AGENT = [{"agentCookie": [], "csrfHeader": []}, {"agentBearer": []}]


def _customer(summary: str, responses: dict, **kw: Any) -> dict[str, Any]:
    return _op(summary, {**responses, "401": ERR, "404": ERR}, tags=["customer"], security=CUSTOMER, **kw)


def _agent(summary: str, responses: dict, **kw: Any) -> dict[str, Any]:
    return _op(summary, {**responses, "401": ERR, "403": ERR}, tags=["agent"], security=AGENT, **kw)


HTML = {"description": "HTML page", "content": {"text/html": {"schema": STR}}}
LIMITED = {"$ref": "#/components/responses/Limited"}
PREFLIGHT = {"summary": "CORS preflight of the widget API", "tags": ["customer"],
             "responses": {"204": {"description": "No content; CORS headers"}}}
PREFLIGHT_ID = {**PREFLIGHT, "parameters": [CONV_ID]}


def _websocket(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get": {"summary": summary, "tags": ["realtime"], "parameters": params, "responses": {
        "101": {"description": "Switching protocols; events as JSON text frames"},
        "400": ERR, "426": {"description": "Upgrade required (not a websocket request)"}}}}


def build_spec(server_url: str | None = None, max_message_chars: int = 2000,
               wechat_path: str | None = None) -> dict[str, Any]:
    """The description of this hub; ``wechat_path`` when the WeChat callback is on."""
    text = {"type": "string", "minLength": 1, "maxLength": max_message_chars}
    msg_list = _ref("MessagePage")
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "Kefu handoff hub API",
            "version": "1.0.0",
            "description": (
                "Customer widget and agent console API of the conversation hub. Errors are "
                '`{"error": {"code", "message"}}`. Websockets: `/ws/customer?conversation_id=&token=` '
                f"(events {', '.join(shapes.CUSTOMER_EVENTS)}; client sends "
                "typing and message) and `/ws/agent` (cookie or `?token=`; events "
                f"{', '.join(shapes.CONSOLE_EVENTS)}; client sends typing). Agents see the queue of "
                "their skill groups and their own chats (403 `not_in_scope` otherwise); supervisors "
                "see all. Customer-side limits answer 429 `rate_limited` with `Retry-After`."
            ),
        },
        "servers": [{"url": server_url or "/"}],
        "tags": [{"name": "customer"}, {"name": "agent"}, {"name": "supervisor"}, {"name": "system"},
                 {"name": "realtime"}, {"name": "pages"}],
        "paths": {
            "/healthz": {"get": _op("Liveness and database check", {"200": OK}, tags=["system"])},
            "/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"})}, tags=["system"])},
            "/": {"get": _op("Demo shop page with the widget", {"200": HTML, "404": ERR}, tags=["pages"])},
            "/console": {"get": _op("Agent console", {"200": HTML, "404": ERR}, tags=["pages"])},
            "/widget.js": {"get": _op("The embeddable widget script", {"200": {
                "description": "JavaScript", "content": {"application/javascript": {"schema": STR}}},
                "404": ERR}, tags=["pages"])},
            "/static/{name}": {"get": _op("Console and page assets", {"200": {"description": "A file"},
                                                                       "404": ERR}, tags=["pages"],
                                          params=[{"name": "name", "in": "path", "required": True,
                                                   "schema": STR}])},
            "/ws/customer": _websocket("Customer websocket", [
                {"name": "conversation_id", "in": "query", "required": True, "schema": STR},
                {"name": "token", "in": "query", "required": True, "schema": STR}]),
            "/ws/agent": _websocket("Agent console websocket (session cookie or token)", [
                {"name": "token", "in": "query", "schema": STR}]),
            "/api/conversations": {
                "post": _op(
                    "Open a conversation (optionally as a verified customer). 429 with Retry-After: "
                    "too many new conversations from this client address or customer/browser",
                    {"201": _json(_ref("NewConversation"), "Created"), "400": ERR, "401": ERR, "429": LIMITED},
                    tags=["customer"],
                    body=_body({"channel": {"type": "string", "enum": ["web"]},
                                "identity": {"type": "string", "description": "signed identity from the shop"},
                                "visitor": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$",
                                            "description": "random per-browser id the widget keeps: one "
                                                           "waiting place in the queue per browser"}}),
                ),
                "options": PREFLIGHT,
            },
            "/api/conversations/{id}": {
                "get": _customer("Conversation state and transcript (500 messages a page; has_more: read on with after)",
                                 {"200": _json(_ref("ConversationState"))},
                                 params=[CONV_ID, {"name": "after", "in": "query", "schema": INT}]),
                "options": PREFLIGHT_ID,
            },
            "/api/conversations/{id}/messages": {
                "get": _customer(
                    "Messages after a seq", {"200": _json(msg_list), "400": ERR},
                    params=[CONV_ID, {"name": "after", "in": "query", "schema": INT}],
                ),
                "post": _customer(
                    "Send a customer message (idempotent per client_msg_id)",
                    {"200": _json(_ref("SendResult")), "400": ERR, "413": ERR, "429": LIMITED,
                     "503": ERR},
                    params=[CONV_ID],
                    body=_body({"text": text,
                                "client_msg_id": {"type": "string", "maxLength": 64},
                                "title": {"type": "string", "description": "button title the customer clicked"}},
                               ["text"]),
                ),
                "options": PREFLIGHT_ID,
            },
            "/api/conversations/{id}/typing": {
                "post": _customer("Customer is typing (limited per client address and customer)",
                                  {"200": OK, "429": LIMITED}, params=[CONV_ID]),
                "options": PREFLIGHT_ID},
            "/api/conversations/{id}/csat": {
                "post": _customer(
                    "Rate the agent service (once, after close)", {"200": OK, "400": ERR, "409": ERR},
                    params=[CONV_ID],
                    body=_body({"score": {"type": "integer", "minimum": 1, "maximum": 5},
                                "nps": {"type": "integer", "minimum": 0, "maximum": 10, "nullable": True,
                                        "description": "optional 推荐意愿: how likely to recommend us, 0–10"},
                                "comment": {"type": "string", "maxLength": 1000}}, ["score"]),
                ),
                "options": PREFLIGHT_ID,
            },
            "/api/conversations/{id}/leave_message": {
                "post": _customer(
                    "Leave a message: creates a ticket (工单) due in 24 h. 429 with Retry-After: too many "
                    "tickets from this client address or customer",
                    {"201": _json({"type": "object", "properties": {"ticket_id": INT}}), "400": ERR,
                     "413": ERR, "429": LIMITED},
                    params=[CONV_ID],
                    body=_body({"text": text,
                                "contact": {"type": "string", "maxLength": 128}}, ["text"]),
                ),
                "options": PREFLIGHT_ID,
            },
            "/api/agent/login": {
                "post": _op(
                    "Log in (application/json from the hub's own origin only); sets the HttpOnly "
                    "kefu_session cookie. An API client sends \"bearer\": true to get the token as well. "
                    "429 with Retry-After: too many attempts for this account or from this address",
                    {"200": _json(_ref("Login")), "400": ERR, "401": ERR, "403": ERR, "415": ERR, "429": ERR},
                    tags=["agent"],
                    body=_body({"username": {"type": "string", "maxLength": 64}, "password": STR,
                                "bearer": {"type": "boolean", "default": False}}, ["username", "password"]),
                )
            },
            "/api/agent/logout": {"post": _agent("Log out", {"200": OK})},
            "/api/agent/me": {"get": _agent(
                "The logged-in agent and the session's CSRF token (send it as X-CSRF-Token with the cookie)",
                {"200": _json(_ref("Me"))})},
            "/api/agent/agents": {"get": _agent("All agents with load and presence", {"200": _json(
                {"type": "object", "properties": {"agents": {"type": "array", "items": _ref("Agent")}}})})},
            "/api/agent/presence": {
                "post": _agent("Set presence", {"200": OK, "400": ERR},
                               body=_body({"status": {"type": "string", "enum": list(shapes.PRESENCES)}},
                                          ["status"]))
            },
            "/api/agent/queue": {
                "get": _agent("Waiting conversations in serving order", {"200": _json(_ref("QueueList"))})
            },
            "/api/agent/conversations": {
                "get": _agent(
                    "Conversations with agents: mine (assigned to me) or all (supervisors only)",
                    {"200": _json({"type": "object", "properties": {"conversations": {
                        "type": "array", "items": _ref("ConversationSummary")}}}), "400": ERR},
                    params=[{"name": "scope", "in": "query", "schema": {"type": "string", "enum": ["mine", "all"]}}],
                )
            },
            "/api/agent/conversations/{id}": {
                "get": _agent("Full transcript, handoff info, customer panel, notes (403 outside the "
                              "agent's scope)", {"200": _json(_ref("AgentConversation")), "404": ERR},
                              params=[CONV_ID])
            },
            "/api/agent/conversations/{id}/messages": {
                "get": _agent("Messages after a seq (incl. internal notes)", {"200": _json(msg_list), "400": ERR,
                                                                               "404": ERR},
                              params=[CONV_ID, {"name": "after", "in": "query", "schema": INT}]),
                "post": _agent(
                    "Reply to the customer, or add an internal note",
                    {"200": _json({"type": "object", "properties": {"message": _ref("Message")}}),
                     "400": ERR, "404": ERR, "409": ERR, "413": ERR},
                    params=[CONV_ID],
                    body=_body({"text": text, "internal": {"type": "boolean"}},
                               ["text"]),
                ),
            },
            "/api/agent/conversations/{id}/claim": {
                "post": _agent("Claim a queued chat (exactly one concurrent claim wins)",
                               {"200": OK, "404": ERR, "409": ERR}, params=[CONV_ID])
            },
            "/api/agent/conversations/{id}/typing": {"post": _agent("Agent is typing", {"200": OK, "404": ERR},
                                                                    params=[CONV_ID])},
            "/api/agent/conversations/{id}/transfer": {
                "post": _agent("Transfer to an agent (online, below their chat limit) or a skill group",
                               {"200": OK, "400": ERR, "404": ERR, "409": ERR},
                               params=[CONV_ID],
                               body=_body({"agent_id": INT, "skill": {"type": "string", "enum": list(SKILLS)}}))
            },
            "/api/agent/conversations/{id}/close": {
                "post": _agent("Close: ask for CSAT, back to the bot", {"200": OK, "404": ERR, "409": ERR},
                               params=[CONV_ID])
            },
            "/api/agent/conversations/{id}/return_to_bot": {
                "post": _agent("Back to the bot without CSAT", {"200": OK, "404": ERR, "409": ERR},
                               params=[CONV_ID])
            },
            "/api/agent/canned": {
                "get": _agent("Canned replies (标准话术)", {"200": _json({"type": "object", "properties": {
                    "items": {"type": "array", "items": _ref("Canned")}}})}),
                "post": _agent("Add a canned reply (supervisor)", {"201": _json(_ref("Canned")), "400": ERR},
                               body=_body({"title": STR, "text": STR}, ["title", "text"])),
            },
            "/api/agent/canned/{id}": {
                "put": _agent("Edit a canned reply (supervisor)", {"200": _json(_ref("Canned")), "400": ERR,
                              "404": ERR}, params=[NUM_ID], body=_body({"title": STR, "text": STR},
                                                                       ["title", "text"])),
                "delete": _agent("Delete a canned reply (supervisor)", {"200": OK, "404": ERR}, params=[NUM_ID]),
            },
            "/api/agent/tickets": {
                "get": _agent("Tickets, due first (every agent sees every ticket)", {"200": _json({
                    "type": "object", "properties": {"items": {"type": "array", "items": _ref("Ticket")}}})},
                    params=[{"name": "status", "in": "query",
                             "schema": {"type": "string", "enum": list(shapes.TICKET_STATUSES)}},
                            {"name": "assignee", "in": "query", "schema": {"type": "string", "enum": ["me", "none"]}}])
            },
            "/api/agent/tickets/{id}": {
                "get": _agent("A ticket with its thread (replies, notes, status, assignment and due changes) "
                              "and, for WeChat, whether the 48 h window is open",
                              {"200": _json(_ref("TicketDetail")), "404": ERR}, params=[NUM_ID]),
                "patch": _agent("Change a ticket's status (its assignee, or a supervisor; an unassigned ticket "
                                "is taken) or due time (supervisors)", {"200": _json({"type": "object", "properties": {
                                    "ticket": _ref("Ticket")}}), "400": ERR, "404": ERR}, params=[NUM_ID],
                                body=_body({"status": {"type": "string", "enum": list(shapes.TICKET_STATUSES)},
                                            "due_at": {"type": "number", "description": "epoch seconds"}})),
            },
            "/api/agent/tickets/{id}/assign": {
                "post": _agent("Assign (supervisors: anyone or null; an agent: take an unassigned ticket, or give "
                               "back their own with null)", {"200": _json({"type": "object", "properties": {
                                   "ticket": _ref("Ticket")}}), "404": ERR, "409": ERR}, params=[NUM_ID],
                               body=_body({"agent_id": {"type": "integer", "nullable": True}}))
            },
            "/api/agent/tickets/{id}/replies": {
                "post": _agent("Reply to the customer: WeChat through the customer-service API while the 48 h "
                               "window is open (else kept as window_closed, not sent); web shown on the "
                               "customer's next widget visit", {"201": _json(_ref("TicketReply")), "404": ERR,
                                                                 "409": ERR},
                               params=[NUM_ID], body=_body({"text": text}, ["text"]))
            },
            "/api/agent/tickets/{id}/notes": {
                "post": _agent("Internal note on the ticket (never shown to the customer)",
                               {"201": _json(_ref("TicketReply")), "404": ERR}, params=[NUM_ID],
                               body=_body({"text": text}, ["text"]))
            },
            "/api/agent/silence": {
                "get": _agent("Customers waiting on an agent's reply (an agent: their own chats), open "
                              "silent-agent alerts, each team's limits", {"200": _json(_ref("SilenceState"))})
            },
            "/api/supervisor/teams/{skill}": {
                "put": _op("A team's silent-agent limits in seconds (null: the hub's default), or alerts off",
                           {"200": _json(_ref("TeamLimits")), "401": ERR, "403": ERR, "404": ERR},
                           tags=["supervisor"], security=AGENT,
                           params=[{"name": "skill", "in": "path", "required": True,
                                    "schema": {"type": "string", "enum": list(SKILLS)}}],
                           body=_body({"silence_alerts": {"type": "boolean"},
                                       "agent_after": {"type": "number", "nullable": True},
                                       "supervisor_after": {"type": "number", "nullable": True}},
                                      ["silence_alerts"]))
            },
            "/api/supervisor/conversations/{id}/take_back": {
                "post": _op("Take a chat from its agent back into the queue at its original place",
                            {"200": _json(_ref("ConversationSummary")), "401": ERR, "403": ERR, "404": ERR,
                             "409": ERR}, tags=["supervisor"], security=AGENT, params=[CONV_ID])
            },
            "/api/supervisor/figures": {
                "get": _op("Quality figures for a range of the shop's days: the whole range, each day, each "
                           "agent; each figure with its target and whether it was met",
                           {"200": _json(_ref("Figures")), "400": ERR, "401": ERR, "403": ERR},
                           tags=["supervisor"], security=AGENT, params=RANGE)
            },
            "/api/supervisor/figures.csv": {
                "get": _op("The same figures as CSV (UTF-8 with BOM, for Excel), by day or by agent",
                           {"200": {"description": "CSV file", "content": {"text/csv": {"schema": STR}}},
                            "400": ERR, "401": ERR, "403": ERR},
                           tags=["supervisor"], security=AGENT,
                           params=RANGE + [{"name": "by", "in": "query",
                                            "schema": {"type": "string", "enum": ["day", "agent"]}}])
            },
            "/api/supervisor/targets": {
                "get": _op("Targets of the quality figures (the seeds' defaults unless changed)",
                           {"200": _json(_ref("Targets")), "401": ERR, "403": ERR}, tags=["supervisor"],
                           security=AGENT),
                "put": _op("Change targets: a number, or null for no target",
                           {"200": _json(_ref("Targets")), "400": ERR, "401": ERR, "403": ERR},
                           tags=["supervisor"], security=AGENT,
                           body=_body({"targets": {"type": "object", "additionalProperties": {
                               "type": "number", "nullable": True}}}, ["targets"])),
            },
            "/api/agent/conversations/{id}/suggestions": {
                "get": _agent("Standard replies (FAQ answers, canned replies) for the customer's last message, "
                              "ranked by the bot's NLU; nlu=unavailable when Rasa is down",
                              {"200": _json(_ref("Suggestions")), "404": ERR}, params=[CONV_ID])
            },
            "/api/supervisor/review": {
                "get": _op("Customer messages the bot did not understand, grouped by wording (supervisor)",
                           {"200": _json(_ref("ReviewPage")), "401": ERR, "403": ERR},
                           tags=["supervisor"], security=AGENT)
            },
            "/api/supervisor/review/labels": {
                "get": _op("Intents and FAQ keys a group may be labelled with (supervisor)",
                           {"200": _json(_ref("ReviewLabels")), "401": ERR, "403": ERR},
                           tags=["supervisor"], security=AGENT)
            },
            "/api/supervisor/review/label": {
                "post": _op("Label a group: an intent, faq/<key> or ignore, or a new FAQ key with its answer; "
                            "data/nlu/reviewed.yml is rewritten (supervisor)",
                            {"200": _json(_ref("ReviewLabelResult")), "401": ERR, "403": ERR, "409": ERR,
                             "500": ERR},
                            tags=["supervisor"], security=AGENT,
                            body=_body({"item_ids": {"type": "array", "minItems": 1, "maxItems": 2000,
                                                     "items": {"type": "integer", "minimum": 1}},
                                        "label": {"type": "string", "minLength": 1, "maxLength": 80},
                                        "new_faq": {"type": "object", "properties": {
                                            "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,40}$"},
                                            "answer": {"type": "string", "minLength": 1, "maxLength": 1000}},
                                            "required": ["key", "answer"]}}, ["item_ids"]))
            },
            "/api/supervisor/stats": {
                "get": _op("Queue, agents, handoffs, first response, CSAT", {"200": _json(_ref("Stats")),
                           "401": ERR, "403": ERR}, tags=["supervisor"], security=AGENT)
            },
        },
        "components": {
            "securitySchemes": {
                "conversationToken": {"type": "http", "scheme": "bearer",
                                      "description": "token from POST /api/conversations"},
                "agentBearer": {"type": "http", "scheme": "bearer", "description": "token from login"},
                "agentCookie": {"type": "apiKey", "in": "cookie", "name": "kefu_session"},
                "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
            "responses": {
                "Limited": {"description": "Limit reached; nothing was created. Retry after the "
                                           "Retry-After seconds (also error.retry_after)",
                            "headers": {"Retry-After": {"schema": INT}},
                            "content": {"application/json": {"schema": {"type": "object", "required": ["error"],
                                                                        "properties": {"error": {
                                "type": "object", "required": ["code", "message"],
                                "properties": {"code": STR, "message": STR, "retry_after": INT}}}}}}},
                "Error": _json({"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": STR, "message": STR}}}}, "Error"),
            },
            "schemas": copy.deepcopy(shapes.SCHEMAS),
        },
    }
    spec["paths"].update(_history_paths())
    if wechat_path:
        spec["paths"][wechat_path] = {
            "get": _op("WeChat server verification (signature check)", {"200": {"description": "echostr"},
                       "400": {"description": "bad request"}, "403": {"description": "bad signature"}},
                       tags=["system"]),
            "post": _op("WeChat message push (XML)", {"200": {"description": "passive reply or success"},
                        "400": {"description": "bad request"}, "403": {"description": "bad signature"}},
                        tags=["system"])}
    spec["paths"].update(_knowledge_paths())
    for item in spec["paths"].values():  # every JSON body can be malformed or too large
        for method, op in item.items():
            if "requestBody" in op:
                op["responses"].setdefault("400", ERR)
                op["responses"].setdefault("413", ERR)
            if method != "options" and "parameters" in op:
                op["responses"].setdefault("400", ERR)
    return spec


def _history_paths() -> dict[str, Any]:
    """History search, transcripts, the sidebar's customer history and 质检 (handoff/history.py)."""
    from handoff.history import MAX_PAGE, MAX_RANGE_DAYS, MAX_TEXT_RANGE_DAYS, REASONS

    def q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": schema, "description": description}

    day = {"type": "string", "format": "date"}
    dates = [q("from", day, f"first day (shop time zone); default 30 days before to; at most {MAX_RANGE_DAYS} "
                            f"days ({MAX_TEXT_RANGE_DAYS} with q)"),
             q("to", day, "last day, default today")]
    score = {"type": "integer", "minimum": 1, "maximum": 5}
    return {
        "/api/agent/history": {"get": _agent(
            "Search past conversations, newest activity first. Supervisors: all; agents: the ones they "
            "handled. 429 when too many searches run; 503 search_timeout when one runs past its time budget",
            {"200": _json(_ref("HistoryPage")), "400": ERR, "429": LIMITED, "503": ERR},
            params=[q("customer", {"type": "string", "maxLength": 128}, "customer id, WeChat openid, or part of the name"),
                    q("order", {"type": "string", "pattern": r"^\d{13}$"}, "order number mentioned in the conversation"),
                    q("phone_tail", {"type": "string", "pattern": r"^\d{4}$"}, "last 4 digits of a phone number"),
                    q("agent_id", {"type": "integer", "minimum": 1}, "agent who handled it (agents: only themselves)"),
                    q("reason", {"type": "string", "enum": list(REASONS)}, "handoff reason"),
                    q("rating", score, "CSAT score"),
                    q("q", {"type": "string", "minLength": 1, "maxLength": 100},
                      "text in any message (bot part and notes included); no full phone numbers"),
                    *dates,
                    q("cursor", {"type": "string", "maxLength": 80}, "next_cursor of the previous page"),
                    q("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 20}, "page size")])},
        "/api/agent/history/{id}": {"get": _agent(
            "Full transcript, read-only: messages (notes marked internal; mobile numbers masked), handoffs, "
            "ratings, tickets, 质检 scores (agents: their own)", {"200": _json(_ref("Transcript")), "404": ERR},
            params=[CONV_ID])},
        "/api/agent/conversations/{id}/customer_history": {"get": _agent(
            "The customer's earlier conversations and tickets (the agent serving the chat, or a supervisor)",
            {"200": _json(_ref("CustomerHistory")), "404": ERR}, params=[CONV_ID])},
        "/api/supervisor/qa/scores/{id}": {"put": _op(
            "Score a closed conversation (质检): one score per supervisor, scoring again edits it",
            {"200": _json(_ref("QaScore")), "400": ERR, "401": ERR, "403": ERR, "404": ERR, "409": ERR},
            tags=["supervisor"], security=AGENT, params=[CONV_ID],
            body=_body({**{k: score for k in shapes.QA_RUBRIC},
                        "comment": {"type": "string", "maxLength": 1000, "nullable": True}}, list(shapes.QA_RUBRIC)))},
        "/api/supervisor/qa/agents": {"get": _op(
            "质检 per agent: count and average of each rubric item, by the day the scored chat closed",
            {"200": _json(_ref("QaAgents")), "400": ERR, "401": ERR, "403": ERR},
            tags=["supervisor"], security=AGENT, params=dates)},
    }

def _supervisor(summary: str, responses: dict, **kw: Any) -> dict[str, Any]:
    return _op(summary, {**responses, "401": ERR, "403": ERR}, tags=["supervisor"], security=AGENT, **kw)


def _knowledge_paths() -> dict[str, Any]:
    """The knowledge base (handoff/knowledge.py): supervisors only."""
    status = _json(_ref("KbStatus"))
    changed = _json({"type": "object", "properties": {"version": _ref("KbVersion"), "status": _ref("KbStatus")}})
    return {
        "/api/kb/entries": {
            "get": _supervisor("The bot's editable answers: FAQ answers and fixed phrases, newest text each",
                               {"200": _json({"type": "object", "properties": {
                                   "items": {"type": "array", "items": _ref("KbEntry")},
                                   "status": _ref("KbStatus")}})}),
            "put": _supervisor(
                "Save a new text (a version); published by the next retrain. 409 stale_version: "
                "saved by someone else since base_version",
                {"201": changed, "404": ERR, "409": ERR},
                body=_body({"key": STR, "text": {"type": "string", "minLength": 1, "maxLength": 2000},
                            "base_version": {**INT, "minimum": 0}}, ["key", "text", "base_version"])),
        },
        "/api/kb/versions": {
            "get": _supervisor("Edit history, newest first (of one response with key)", {"200": _json(
                {"type": "object", "properties": {"items": {"type": "array", "items": _ref("KbVersion")}}})},
                params=[{"name": "key", "in": "query", "schema": STR}]),
        },
        "/api/kb/versions/{id}/rollback": {
            "post": _supervisor("Undo an edit: a new version with the text it replaced",
                                {"201": changed, "404": ERR, "409": ERR}, params=[NUM_ID]),
        },
        "/api/kb/training": {
            "get": _supervisor("Retrain progress: stage, elapsed time, log tail, gate result", {"200": status}),
            "post": _supervisor("Publish again (retrain, gate, load); 409 when one runs or retraining is off",
                                {"202": status, "409": ERR}, body=_body({})),
        },
    }
