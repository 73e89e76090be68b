#!/usr/bin/env python3
"""An example receiver of fgwh webhook notifications, standard library only.

For each POST it
  - verifies fg-webhook-signature (the fgwh scheme) and, when the request
    carries them, the Standard Webhooks headers; a request with neither is
    refused;
  - rejects an attempt older or newer than five minutes: the signed body's
    deliveryAttemptedAt, and the signed webhook-timestamp;
  - skips a notification it has already processed, keyed on (webhookId,
    eventId), but still answers 2xx so fgwh stops retrying it;
  - answers at once and prints one line per notification on stdout:

    notification webhookId=whk_... eventId=whev_... type=recording.imported verified=fgwh,standard

It answers 401 when a signature is missing or wrong, 400 when the attempt is
stale or the body is not a notification. Diagnostics go to stderr.

Usage:

    FGWH_TOKEN=whsec_... python3 receiver.py [PORT]

PORT (or $PORT) defaults to 8000, and 0 picks a free port; the receiver
listens on 127.0.0.1 unless $HOST says otherwise, and prints the address it
listens on to stderr. FGWH_TOKEN may hold several comma-separated tokens:
while a token is rotated, give the new one and the previous one.
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time

TOLERANCE_SECONDS = 5 * 60
MAX_BODY_BYTES = 1 << 20


class Rejected(Exception):
    """A request that fails verification, with the status to answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def verify_fgwh(tokens, body, signature):
    """fg-webhook-signature: lower-case hex HMAC-SHA256 of the exact body,
    keyed with the token's UTF-8 bytes."""
    for token in tokens:
        expected = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
        # Compare bytes: compare_digest refuses non-ASCII str.
        if hmac.compare_digest(expected.encode(), signature.strip().lower().encode(errors="replace")):
            return
    raise Rejected(401, "fg-webhook-signature: bad signature")


def check_attempt_time(body, now):
    """Rejects a stale deliveryAttemptedAt; it is inside the signed body."""
    try:
        attempted = json.loads(body)["deliveryAttemptedAt"]
        # fromisoformat reads a trailing "Z" only from Python 3.11 on.
        at = datetime.datetime.fromisoformat(attempted.replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Rejected(400, "deliveryAttemptedAt missing or not a time")
    if abs(now - at.timestamp()) > TOLERANCE_SECONDS:
        raise Rejected(400, "deliveryAttemptedAt %s is too far from now" % attempted)


def standard_key(token):
    """The HMAC key of a Standard Webhooks secret: the bytes that the base64
    after "whsec_" encodes."""
    if token.startswith("whsec_"):
        token = token[len("whsec_"):]
    return base64.b64decode(token)


def verify_standard(tokens, body, msg_id, timestamp, signatures, now):
    """webhook-signature: space-separated "v1,<base64 HMAC-SHA256 of
    id.timestamp.body>", one per secret the sender signs with."""
    if not msg_id or not timestamp:
        raise Rejected(401, "webhook-id and webhook-timestamp are required")
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = [
        base64.b64encode(hmac.new(standard_key(t), signed, hashlib.sha256).digest()).decode()
        for t in tokens
    ]
    matched = False
    for entry in signatures.split():
        version, _, sig = entry.partition(",")
        if version != "v1":
            continue
        for e in expected:
            if hmac.compare_digest(e.encode(), sig.encode(errors="replace")):
                matched = True
    if not matched:
        raise Rejected(401, "webhook-signature: bad signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise Rejected(401, "webhook-timestamp: not unix seconds")
    if abs(now - sent) > TOLERANCE_SECONDS:
        raise Rejected(400, "webhook-timestamp %s is too far from now" % timestamp)


class Receiver:
    def __init__(self, tokens):
        self.tokens = tokens
        self.lock = threading.Lock()
        # What was processed. A real receiver keeps this durably, e.g. a
        # unique (webhook_id, event_id) key in the table its work writes to,
        # inserted in the same transaction; a set in memory forgets
        # everything on restart and grows without bound.
        self.seen = set()

    def verify(self, headers, body):
        """Checks every signature the request carries; returns the schemes
        that verified."""
        now = time.time()
        schemes = []
        fgwh_sig = headers.get("fg-webhook-signature")
        std_sigs = headers.get_all("webhook-signature") or []
        if fgwh_sig or not std_sigs:
            if not fgwh_sig:
                raise Rejected(401, "fg-webhook-signature: missing header")
            verify_fgwh(self.tokens, body, fgwh_sig)
            check_attempt_time(body, now)
            schemes.append("fgwh")
        if std_sigs:
            verify_standard(self.tokens, body, headers.get("webhook-id"),
                            headers.get("webhook-timestamp"), " ".join(std_sigs), now)
            schemes.append("standard")
        return schemes

    def handle(self, headers, body):
        """Returns the status and text to answer."""
        try:
            schemes = self.verify(headers, body)
            n = json.loads(body)
            webhook_id, event_id = n["webhookId"], n["eventId"]
            event_type = n["payload"]["type"]
        except Rejected as e:
            log("rejected %d: %s" % (e.status, e))
            return e.status, str(e)
        except (ValueError, KeyError, TypeError):
            log("rejected 400: not an fgwh notification")
            return 400, "not an fgwh notification"
        with self.lock:
            key = (webhook_id, event_id)
            if key in self.seen:
                # Acknowledge, or fgwh would keep retrying something already done.
                log("duplicate webhookId=%s eventId=%s" % key)
                return 200, "duplicate"
            # Answer fast: real work that takes more than a moment belongs on a
            # queue, recorded here and done after the answer.
            print("notification webhookId=%s eventId=%s type=%s verified=%s"
                  % (webhook_id, event_id, event_type, ",".join(schemes)), flush=True)
            self.seen.add(key)
        return 200, "ok"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def make_handler(receiver):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY_BYTES:
                self.answer(413 if length > 0 else 400, "bad Content-Length")
                return
            body = self.rfile.read(length)
            status, answer = receiver.handle(self.headers, body)
            self.answer(status, answer)

        def answer(self, status, text):
            data = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):
            pass  # one line per notification is printed by Receiver.handle

    return Handler


def main(argv):
    tokens = [t.strip() for t in os.environ.get("FGWH_TOKEN", "").split(",") if t.strip()]
    if not tokens:
        log("receiver: set FGWH_TOKEN to the webhook's token")
        return 1
    for t in tokens:
        try:
            standard_key(t)
        except (binascii.Error, ValueError):
            log("receiver: token %s... is not whsec_<base64>" % t[:10])
            return 1
    port = int(argv[1] if len(argv) > 1 else os.environ.get("PORT", "8000"))
    host = os.environ.get("HOST", "127.0.0.1")
    server = http.server.ThreadingHTTPServer((host, port), make_handler(Receiver(tokens)))
    log("listening on %s:%d" % server.server_address[:2])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
