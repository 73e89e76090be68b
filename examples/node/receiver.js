#!/usr/bin/env node
// An example receiver of fgwh webhook notifications, built-in modules only.
//
// For each POST it
//   - verifies fg-webhook-signature (the fgwh scheme) and, when the request
//     carries them, the Standard Webhooks headers; a request with neither is
//     refused;
//   - rejects an attempt older or newer than five minutes: the signed body's
//     deliveryAttemptedAt, and the signed webhook-timestamp;
//   - skips a notification it has already processed, keyed on (webhookId,
//     eventId), but still answers 2xx so fgwh stops retrying it;
//   - answers at once and prints one line per notification on stdout:
//
//     notification webhookId=whk_… eventId=whev_… type=recording.imported verified=fgwh,standard
//
// It answers 401 when a signature is missing or wrong, 400 when the attempt
// is stale or the body is not a notification. Diagnostics go to stderr.
//
// Usage:
//
//   FGWH_TOKEN=whsec_… node receiver.js [PORT]
//
// PORT (or $PORT) defaults to 8000, and 0 picks a free port; the receiver
// listens on 127.0.0.1 unless $HOST says otherwise, and prints the address it
// listens on to stderr. FGWH_TOKEN may hold several comma-separated tokens:
// while a token is rotated, give the new one and the previous one.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');

const TOLERANCE_SECONDS = 5 * 60;
const MAX_BODY_BYTES = 1 << 20;

class Rejected extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// equal compares two strings in constant time (for equal lengths).
function equal(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// verifyFgwh checks fg-webhook-signature: the lower-case hex HMAC-SHA256 of
// the exact body bytes, keyed with the token's UTF-8 bytes.
function verifyFgwh(tokens, body, signature) {
  const got = signature.trim().toLowerCase();
  let matched = false;
  for (const token of tokens) {
    const want = crypto.createHmac('sha256', token).update(body).digest('hex');
    if (equal(want, got)) matched = true;
  }
  if (!matched) throw new Rejected(401, 'fg-webhook-signature: bad signature');
}

// checkAttemptTime rejects a stale deliveryAttemptedAt; it is inside the
// signed body.
function checkAttemptTime(body, now) {
  let at = NaN;
  let attempted;
  try {
    attempted = JSON.parse(body.toString('utf8')).deliveryAttemptedAt;
    if (typeof attempted === 'string') at = Date.parse(attempted) / 1000;
  } catch (e) {
    // handled below
  }
  if (Number.isNaN(at)) throw new Rejected(400, 'deliveryAttemptedAt missing or not a time');
  if (Math.abs(now - at) > TOLERANCE_SECONDS) {
    throw new Rejected(400, `deliveryAttemptedAt ${attempted} is too far from now`);
  }
}

// standardKey returns the HMAC key of a Standard Webhooks secret: the bytes
// that the base64 after "whsec_" encodes.
function standardKey(token) {
  return Buffer.from(token.startsWith('whsec_') ? token.slice(6) : token, 'base64');
}

// verifyStandard checks webhook-signature: space-separated
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per secret the sender
// signs with.
function verifyStandard(tokens, body, msgID, timestamp, signatures, now) {
  if (!msgID || !timestamp) {
    throw new Rejected(401, 'webhook-id and webhook-timestamp are required');
  }
  const signed = Buffer.concat([Buffer.from(`${msgID}.${timestamp}.`), body]);
  const want = tokens.map((t) =>
    crypto.createHmac('sha256', standardKey(t)).update(signed).digest('base64'));
  let matched = false;
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const sig = entry.slice(comma + 1);
    for (const w of want) {
      if (equal(w, sig)) matched = true;
    }
  }
  if (!matched) throw new Rejected(401, 'webhook-signature: bad signature');
  if (!/^[0-9]+$/.test(timestamp)) throw new Rejected(401, 'webhook-timestamp: not unix seconds');
  if (Math.abs(now - Number(timestamp)) > TOLERANCE_SECONDS) {
    throw new Rejected(400, `webhook-timestamp ${timestamp} is too far from now`);
  }
}

// seen holds what was processed. A real receiver keeps this durably, e.g. a
// unique (webhook_id, event_id) key in the table its work writes to, inserted
// in the same transaction; a Set in memory forgets everything on restart and
// grows without bound.
const seen = new Set();

// verify checks every signature the request carries and returns the schemes
// that verified.
function verify(tokens, headers, body) {
  const now = Date.now() / 1000;
  const schemes = [];
  const fgwhSig = headers['fg-webhook-signature'];
  const stdSigs = headers['webhook-signature'];
  if (fgwhSig || !stdSigs) {
    if (!fgwhSig) throw new Rejected(401, 'fg-webhook-signature: missing header');
    verifyFgwh(tokens, body, fgwhSig);
    checkAttemptTime(body, now);
    schemes.push('fgwh');
  }
  if (stdSigs) {
    verifyStandard(tokens, body, headers['webhook-id'], headers['webhook-timestamp'], stdSigs, now);
    schemes.push('standard');
  }
  return schemes;
}

// handle returns [status, answer] for a request.
function handle(tokens, headers, body) {
  let schemes;
  let n;
  try {
    schemes = verify(tokens, headers, body);
  } catch (e) {
    if (!(e instanceof Rejected)) throw e;
    console.error(`rejected ${e.status}: ${e.message}`);
    return [e.status, e.message];
  }
  try {
    n = JSON.parse(body.toString('utf8'));
  } catch (e) {
    n = null;
  }
  if (!n || typeof n.webhookId !== 'string' || typeof n.eventId !== 'string' || !n.payload) {
    console.error('rejected 400: not an fgwh notification');
    return [400, 'not an fgwh notification'];
  }
  // Node runs this handler to the end before the next request's, so the
  // check and the insert cannot interleave.
  const key = JSON.stringify([n.webhookId, n.eventId]);
  if (seen.has(key)) {
    // Acknowledge, or fgwh would keep retrying something already done.
    console.error(`duplicate webhookId=${n.webhookId} eventId=${n.eventId}`);
    return [200, 'duplicate'];
  }
  // Answer fast: real work that takes more than a moment belongs on a queue,
  // recorded here and done after the answer.
  console.log(`notification webhookId=${n.webhookId} eventId=${n.eventId} ` +
    `type=${n.payload.type} verified=${schemes.join(',')}`);
  seen.add(key);
  return [200, 'ok'];
}

function main() {
  const tokens = (process.env.FGWH_TOKEN || '').split(',').map((t) => t.trim()).filter((t) => t);
  if (tokens.length === 0) {
    console.error("receiver: set FGWH_TOKEN to the webhook's token");
    process.exit(1);
  }
  const port = Number(process.argv[2] || process.env.PORT || '8000');
  const host = process.env.HOST || '127.0.0.1';

  const server = http.createServer((req, res) => {
    const answer = (status, text) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(text + '\n');
    };
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      answer(405, 'POST only');
      return;
    }
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) {
        answer(413, 'body too large');
        return;
      }
      // The signatures cover these exact bytes: verify before parsing.
      const [status, text] = handle(tokens, req.headers, Buffer.concat(chunks));
      answer(status, text);
    });
  });
  server.listen(port, host, () => {
    const addr = server.address();
    console.error(`listening on ${addr.address}:${addr.port}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main();
