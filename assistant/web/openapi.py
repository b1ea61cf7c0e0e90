"""The OpenAPI 3.1 document of /api/ (a test checks it validates and covers every /api/ route)."""

from __future__ import annotations

from .. import __version__


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


ERRORS = {
    "400": _error("Malformed JSON, empty or binary question; `csrf_failed`: a browser on our own origin sent no "
                  "valid page token (X-CSRF-Token, from the page's csrf-token meta tag)"),
    "403": _error("Origin not allowed (widget origins are configured by the operator)"),
    "404": _error("Unknown or expired conversation_id or answer_id"),
    "413": _error("Body or question too long"),
    "415": _error("Content-Type is not application/json"),
    "422": _error("A field is missing or has the wrong type"),
    "429": _error("Too many requests from this address (or in this conversation); see Retry-After"),
    "500": _error("Unexpected failure (logged); the body is still this JSON error"),
    "503": _error("No index has been built, or the database is unreachable or not migrated"),
}

FEEDBACK = {"application/json": {"schema": {"type": "object", "properties": {
    "status": {"type": "string", "enum": ["recorded", "replaced"]}, "id": {"type": "integer"}}}}}
CHAT_REQUEST = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}}}


def openapi_document() -> dict:
    """The document served at /api/openapi.json."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "GDPR assistant API", "version": __version__,
                 "description": "Grounded answers about the GDPR (RGPD) with citations to official sources."},
        "paths": {
            "/api/chat": {"post": {
                "summary": "Answer one message", "operationId": "chat", "requestBody": CHAT_REQUEST,
                "responses": {"200": {"description": "The answer",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}}},
                              **ERRORS}}},
            "/api/chat/stream": {
                "post": {"summary": "Answer one message as Server-Sent Events", "operationId": "chatStreamPost",
                         "requestBody": CHAT_REQUEST,
                         "responses": {"200": {"description": "Events `sources`, `token`... (plain text), then `done` "
                                                              "(the Answer with answer_id and answer_html) or `error`; "
                                                              "`reset` means: drop the text received so far (an "
                                                              "optional LLM failed), the grounded answer follows",
                                               "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                                       **ERRORS}}},
            "/api/feedback": {"post": {
                "summary": "Thumbs up or down on an answer", "operationId": "feedback",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/FeedbackRequest"}}}},
                "responses": {"201": {"description": "First vote on this answer: recorded", "content": FEEDBACK},
                              "200": {"description": "Later vote on the same answer: replaced the earlier one "
                                                     "(one vote per answer)", "content": FEEDBACK},
                              **ERRORS}}},
            "/api/newsletter": {"post": {
                "summary": "Newsletter sign-up (double opt-in): the same answer whatever the address's state",
                "operationId": "newsletterSubscribe",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["email", "consent"], "properties": {
                        "email": {"type": "string", "maxLength": 254},
                        "consent": {"type": "boolean", "description": "true: the visitor ticked the consent box"},
                        "language": {"type": "string", "enum": ["fr", "en"]},
                        "topics": {"type": "array", "items": {"type": "string", "enum": [
                            "decisions", "faq", "employment", "marketing", "security"]}},
                        "source": {"type": "string", "enum": ["newsletter", "chat", "widget"]}}}}}},
                "responses": {"200": {"description": "A confirmation e-mail is on its way if the address can receive "
                                                     "the newsletter", "content": {"application/json": {"schema": {
                                                         "type": "object", "properties": {
                                                             "status": {"type": "string", "enum": ["sent"]},
                                                             "message": {"type": "string"}}}}}},
                              **ERRORS}}},
            "/api/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                          "responses": {"200": {"description": "OpenAPI document",
                                                                "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/api/health": {"get": {"summary": "Liveness and index generation", "operationId": "health",
                                    "responses": {"200": {"description": "OK", "content": {"application/json": {
                                        "schema": {"type": "object", "properties": {
                                            "status": {"type": "string"}, "index": {"type": "string"},
                                            "chunks": {"type": "integer"}}}}}},
                                                  "503": ERRORS["503"]}}},
        },
        "components": {"schemas": {
            "ChatRequest": {"type": "object", "required": ["message"], "properties": {
                "message": {"type": "string", "minLength": 1, "maxLength": 2000},
                "conversation_id": {"type": "string", "description": "from a previous answer, for follow-ups"}}},
            "Citation": {"type": "object", "required": ["kind", "ref", "title", "url", "page", "score"], "properties": {
                "kind": {"type": "string", "enum": ["gdpr_article", "gdpr_recital", "guide", "faq", "cnil_decision"]},
                "ref": {"type": "string"}, "article": {"type": ["integer", "null"]},
                "paragraph": {"type": ["string", "null"]}, "title": {"type": "string"},
                "url": {"type": "string", "format": "uri"}, "page": {"type": "string"},
                "updated": {"type": "string"}, "score": {"type": "number", "minimum": 0, "maximum": 1}}},
            "Referral": {"type": ["object", "null"], "properties": {
                "reason": {"type": "string"}, "code": {"type": "string"},
                "partners": {"type": "array", "items": {"$ref": "#/components/schemas/Partner"},
                             "description": "the best partner DPOs for the question (at most 3), best first; "
                                            "the visitor chooses and consents on /dpo"},
                "dpo_url": {"type": "string", "description": "the /dpo form's address for this answer (the "
                                                             "reason and the kinds of data pre-ticked)"}}},
            "Partner": {"type": "object", "required": ["id", "name", "score", "why"], "properties": {
                "id": {"type": "string"}, "name": {"type": "string"},
                "score": {"type": "number", "minimum": 0, "maximum": 1,
                          "description": "weighted match score (sector, specialisms, size, certification, budget, "
                                         "region, text similarity)"},
                "why": {"type": "array", "items": {"type": "string"},
                        "description": "the top reasons, in the answer's language"}}},
            "Answer": {"type": "object", "required": ["answer", "language", "status", "citations", "timings_ms"],
                       "properties": {
                           "answer": {"type": "string", "description": "Markdown"},
                           "answer_html": {"type": "string", "description": "The answer rendered and sanitised on "
                                           "the server (markdown-it-py, nh3): what the chat page and the widget show"},
                           "cite_prefix": {"type": "string", "description": "answer_html links marker [n] to "
                                           "#<cite_prefix><n>: give the n-th citation card that id"},
                           "language": {"type": "string", "enum": ["fr", "en"]},
                           "status": {"type": "string", "enum": ["answered", "out_of_scope", "no_answer"]},
                           "citations": {"type": "array", "items": {"$ref": "#/components/schemas/Citation"}},
                           "referral": {"$ref": "#/components/schemas/Referral"},
                           "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}},
                           "conversation_id": {"type": "string"},
                           "answer_id": {"type": ["string", "null"]}}},
            "FeedbackRequest": {"type": "object", "required": ["answer_id", "rating"], "properties": {
                "answer_id": {"type": "string"}, "rating": {"type": "string", "enum": ["up", "down"]},
                "comment": {"type": "string", "maxLength": 1000}}},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
        }},
    }
