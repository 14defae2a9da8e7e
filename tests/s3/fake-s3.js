#!/usr/bin/env node
// A fake S3 server for tests/s3.bats: s3rver keeps the buckets and objects
// (path-style, Range honoured), and every request must carry an AWS
// Signature Version 4, either an Authorization header or a presigned
// query, which is recomputed here with the aws4 package (an implementation
// independent of vr's) from the secret of the access key it names. A
// mismatch is S3's answer: 403 SignatureDoesNotMatch; an expired presigned
// URL or a date more than 15 minutes off is 403 too. s3rver 3.7 accepts
// any V4 signature of a known key, hence this check in front of it.
//
//   fake-s3.js --port PORT --directory DIR --bucket NAME [--log FILE]
//
// Credentials: access key S3RVER, secret S3RVER (s3rver's default
// account). Prints "listening PORT" on stdout once it accepts requests;
// --log FILE gets one line per request: method, url, status, auth kind.
'use strict';

const fs = require('fs');
const S3rver = require('s3rver');
const aws4 = require('aws4');

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const port = Number(args.port);
const log = args.log ? fs.openSync(args.log, 'a') : null;
const SECRETS = { S3RVER: 'S3RVER' };
const SKEW_MS = 15 * 60 * 1000;

function amzTime(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
}

function deny(ctx, code, message) {
  ctx.status = 403;
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

// What aws4 computes for the request with the given secret; null when the
// request names no key we know.
function verifyHeader(ctx) {
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      ctx.get('authorization'),
    );
  if (!m) return ['AuthorizationHeaderMalformed', 'bad Authorization header'];
  const [, key, , region, service, signedList, signature] = m;
  if (!(key in SECRETS)) return ['InvalidAccessKeyId', 'unknown access key'];
  const date = ctx.get('x-amz-date');
  if (!(Math.abs(Date.now() - amzTime(date)) <= SKEW_MS))
    return ['RequestTimeTooSkewed', 'x-amz-date too far from now'];
  const headers = {};
  for (const h of signedList.split(';')) headers[h] = ctx.get(h);
  const opts = {
    host: ctx.get('host'),
    method: ctx.method,
    path: ctx.url,
    service,
    region,
    headers,
  };
  aws4.sign(opts, { accessKeyId: key, secretAccessKey: SECRETS[key] });
  const want = /Signature=([0-9a-f]{64})/.exec(opts.headers.Authorization)[1];
  return want === signature ? null : ['SignatureDoesNotMatch', 'signature mismatch'];
}

function verifyQuery(ctx) {
  const q = ctx.query;
  const m = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(q['X-Amz-Credential'] || '');
  if (!m) return ['AuthorizationQueryParametersError', 'bad X-Amz-Credential'];
  const [, key, , region, service] = m;
  if (!(key in SECRETS)) return ['InvalidAccessKeyId', 'unknown access key'];
  const start = amzTime(q['X-Amz-Date']);
  const expires = Number(q['X-Amz-Expires']);
  if (!(expires >= 1 && expires <= 604800))
    return ['AuthorizationQueryParametersError', 'X-Amz-Expires out of range'];
  if (!(Date.now() >= start - SKEW_MS && Date.now() <= start + expires * 1000))
    return ['AccessDenied', 'Request has expired'];
  // the URL as sent, without its signature, signed again
  const [path, query = ''] = ctx.url.split('?');
  const rest = query
    .split('&')
    .filter(p => p && !/^X-Amz-Signature=/.test(p))
    .join('&');
  const opts = {
    host: ctx.get('host'),
    method: ctx.method,
    path: rest ? `${path}?${rest}` : path,
    service,
    region,
    signQuery: true,
    headers: {},
  };
  aws4.sign(opts, { accessKeyId: key, secretAccessKey: SECRETS[key] });
  const want = /X-Amz-Signature=([0-9a-f]{64})/.exec(opts.path)[1];
  return want === q['X-Amz-Signature'] ? null : ['SignatureDoesNotMatch', 'signature mismatch'];
}

async function checkSignature(ctx, next) {
  let kind = 'none';
  let fail = ['AccessDenied', 'anonymous requests are not allowed'];
  if (ctx.get('authorization')) {
    kind = 'header';
    fail = verifyHeader(ctx);
  } else if ('X-Amz-Signature' in ctx.query) {
    kind = 'presigned';
    fail = verifyQuery(ctx);
  }
  if (fail) deny(ctx, fail[0], fail[1]);
  else await next();
  if (log)
    fs.writeSync(
      log,
      `${ctx.method} ${ctx.url} ${ctx.status} ${kind}${fail ? ' ' + fail[0] : ''}` +
        `${ctx.get('range') ? ' range=' + ctx.get('range') : ''}\n`,
    );
}

const server = new S3rver({
  address: '127.0.0.1',
  port,
  directory: args.directory,
  silent: true,
  configureBuckets: [{ name: args.bucket }],
});
// first of all: s3rver's own middleware is composed when it listens
server.middleware.unshift(checkSignature);
server.run().then(
  addr => {
    process.stdout.write(`listening ${addr.port}\n`);
  },
  err => {
    process.stderr.write(`fake-s3: ${err.message}\n`);
    process.exit(1);
  },
);
