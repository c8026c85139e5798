// Main's OpenID Connect provider (src/users/oidc_provider.h) as a third-party relying party sees
// it: openid-client (npm, by panva; code nobody on this project wrote) against a real
// `tieup main serve` on loopback. No browser: fetch plays the customer's browser (it reads the
// Location of each redirect instead of following it, so nothing needs to listen at the client's
// redirect URI).
//
//   node oidc_client.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// Main is made with `tieup main init` (fast password hashing, the setting for tests), a client
// "tea-app" registered with `tieup main sso-clients add`. Checked, in order:
//   - discovery: the metadata openid-client reads (issuer, PKCE S256, ES256 ID tokens);
//   - registration through tea-app (prompt=create): main's form, the link of the confirmation
//     mail (read from main's outbox), the request going on to tea-app signed in, an ID token
//     with email_verified and tieup_new_account;
//   - the authorization code flow with PKCE: main's sign-in form, the code back at the redirect
//     URI with state and iss (RFC 9207); openid-client exchanges it and verifies the ID token
//     (ES256 signature against the JWKS, iss, aud, exp, nonce) and reads userinfo;
//   - refusals openid-client must surface: a code used twice (invalid_grant, and the access token
//     of its first use revoked); a code from single sign-on (no password asked) with a wrong
//     code_verifier (invalid_grant); a wrong client secret (invalid_client, 401);
//   - sign-out everywhere from openid-client's end-session URL: confirmation page, redirect to the
//     registered post-logout URI with the state, the old session cookie no longer signs in;
//   - bad authorization requests: an unregistered redirect URI or client gets an error page and
//     no redirect; a request without PKCE goes back to the client with error=invalid_request.
// The daemon's output and the CLI's go to ARTIFACT_DIR (main.log, cli.log). Every wait polls the
// state it needs with a deadline.
import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import * as client from 'openid-client';

import { TieupProcess, freePorts, httpStatus, mailLink } from './harness.mjs';

const [binary, artifacts = path.join(os.tmpdir(), 'tieup-oidc-artifacts')] = process.argv.slice(2);
if (!binary) throw new Error('usage: node oidc_client.test.mjs TIEUP_BINARY [ARTIFACT_DIR]');

const CLIENT_ID = 'tea-app';
const CUSTOMER = { email: 'hana@example.org', name: 'Hana Sato', password: 'sencha every morning' };
const SCOPE = 'openid profile email';
const SESSION_COOKIE = 'tieup_main_session';

let dir;          // the temporary directory holding main's data directory
let mainDir;      // main's data directory
let daemon;       // `tieup main serve`
let issuer;       // http://127.0.0.1:PORT
let redirectUri;  // http://127.0.0.1:RP/cb (nothing listens there)
let postLogoutUri;
let secret;       // tea-app's client secret, as `sso-clients add` printed it
let config;       // openid-client's Configuration from discovery
let session;      // "tieup_main_session=..." from the sign-in at main
let first;        // the first sign-in: { location, tokens }

// Runs `tieup args...`; its standard output. Each command and its output go to cli.log.
function tieup(...args) {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: 30000 }, (error, stdout, stderr) => {
      fs.appendFileSync(path.join(artifacts, 'cli.log'),
                        `$ tieup ${args.join(' ')}\n${stdout}${stderr}` +
                        (error ? `(failed: ${error.code ?? error.signal})\n` : '') + '\n');
      if (error) {
        reject(new Error(`tieup ${args.join(' ')} failed: ${(stderr || stdout).trim()}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

// A request as the customer's browser sends it: redirects not followed, main's session cookie
// when given, forms with the Origin and Referer of main itself. Resolves to the status, the
// Location, the body and the Set-Cookie headers.
async function browser(url, { cookie, form } = {}) {
  const headers = {};
  if (cookie) headers.Cookie = cookie;
  if (form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    headers.Origin = issuer;
    headers.Referer = `${issuer}/oidc/authorize`;
  }
  const r = await fetch(url, {
    method: form ? 'POST' : 'GET',
    headers,
    body: form ? new URLSearchParams(form).toString() : undefined,
    redirect: 'manual',
    signal: AbortSignal.timeout(15000),
  });
  return {
    status: r.status,
    location: r.headers.get('location'),
    cookies: r.headers.getSetCookie(),
    body: await r.text(),
  };
}

const unescapeHtml = (s) => s.replace(/&(amp|quot|#39|lt|gt);/g, (_, e) =>
  ({ amp: '&', quot: '"', '#39': "'", lt: '<', gt: '>' })[e]);

// The hidden inputs of a page's form, unescaped.
function hiddenFields(html) {
  const out = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    out[unescapeHtml(m[1])] = unescapeHtml(m[2]);
  }
  return out;
}

// A fresh authorization request of tea-app, built by openid-client: PKCE S256, state, nonce.
async function newAuthorization(parameters = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const a = {
    verifier,
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
  a.url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: a.state,
    nonce: a.nonce,
    ...parameters,
  });
  return a;
}

// Checks that `location` is tea-app's redirect URI with a code, `state` and main as iss.
function assertCodeRedirect(location, state) {
  assert.ok(location?.startsWith(`${redirectUri}?`), `Location ${location}`);
  const q = new URL(location).searchParams;
  assert.match(q.get('code') ?? '', /^[A-Za-z0-9_-]{20,}$/, `code in ${location}`);
  assert.equal(q.get('state'), state);
  assert.equal(q.get('iss'), issuer);
}

// A new code through single sign-on: with main's session cookie the authorization URL
// redirects back at once, no password asked.
async function codeBySingleSignOn() {
  const a = await newAuthorization();
  const r = await browser(a.url, { cookie: session });
  assert.equal(r.status, 303, `single sign-on answered ${r.status}: ${r.body.slice(0, 300)}`);
  assert.doesNotMatch(r.body, /name="password"/);
  assertCodeRedirect(r.location, a.state);
  return { ...a, location: r.location };
}

// Runs `fn`, which must throw the error of an OAuth error response with `error` (what
// openid-client surfaces as ResponseBodyError); `status` checks its HTTP status.
async function assertOAuthError(fn, error, status) {
  await assert.rejects(fn, (e) => {
    assert.ok(e instanceof client.ResponseBodyError, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.error, error, e.error_description);
    if (status) assert.equal(e.status, status);
    return true;
  });
}

before(async () => {
  fs.rmSync(artifacts, { recursive: true, force: true });
  fs.mkdirSync(artifacts, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tieup-oidc-'));
  mainDir = path.join(dir, 'main');
  // Free ports below the ephemeral range (harness.mjs): main's public and sync ports, and
  // tea-app's (only named in its URIs).
  const [publicPort, syncPort, appPort] = await freePorts(3);
  issuer = `http://127.0.0.1:${publicPort}`;
  redirectUri = `http://127.0.0.1:${appPort}/cb`;
  postLogoutUri = `http://127.0.0.1:${appPort}/bye`;

  await tieup('main', 'init', mainDir, '--name', 'Tea House', '--public',
              `127.0.0.1:${publicPort}`, '--sync', `127.0.0.1:${syncPort}`);
  // Fast password hashing (the setting documented as for tests only), and the manager console
  // on any free port (by default it takes a port derived from the public one, not checked free).
  const toml = path.join(mainDir, 'site.toml');
  let text = fs.readFileSync(toml, 'utf8');
  text = text.replace(/^listen = "127\.0\.0\.1:\d+"/m, 'listen = "127.0.0.1:0"');
  text = /^\[variables\]$/m.test(text)
    ? text.replace(/^\[variables\]$/m, '[variables]\n"users.password_hashing" = "min"')
    : `${text}\n[variables]\n"users.password_hashing" = "min"\n`;
  fs.writeFileSync(toml, text);

  const added = await tieup('main', 'sso-clients', 'add', mainDir, '--id', CLIENT_ID, '--name',
                            'Tea App', '--redirect-uri', redirectUri, '--post-logout-uri',
                            postLogoutUri);
  secret = added.match(/Client secret \(shown only now[^\n]*\n([^\n]+)\n/)?.[1]?.trim();
  assert.match(secret ?? '', /^[A-Za-z0-9_-]{40,}$/, `no secret in:\n${added}`);

  daemon = new TieupProcess(binary, ['main', 'serve', mainDir], path.join(artifacts, 'main.log'));
  await daemon.waitReady('main answering its OpenID Connect discovery', async () =>
    (await httpStatus(`${issuer}/.well-known/openid-configuration`)) === 200);
});

after(async () => {
  if (daemon) await daemon.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('discovery: openid-client accepts main\'s metadata', async () => {
  // http, not https: loopback only, allowed explicitly. Non-repudiation checks: openid-client
  // then verifies the signature of ID tokens from the token endpoint too (by default it trusts
  // the token endpoint's TLS and checks only the claims).
  config = await client.discovery(new URL(issuer), CLIENT_ID, secret, undefined, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
  const m = config.serverMetadata();
  assert.equal(m.issuer, issuer);
  assert.ok(m.code_challenge_methods_supported?.includes('S256'));
  assert.deepEqual(m.id_token_signing_alg_values_supported, ['ES256']);
  assert.equal(m.authorization_endpoint, `${issuer}/oidc/authorize`);
  assert.equal(m.token_endpoint, `${issuer}/oidc/token`);
  assert.equal(m.end_session_endpoint, `${issuer}/oidc/logout`);
  assert.equal(m.authorization_response_iss_parameter_supported, true);
});

test('registration through tea-app (prompt=create): main\'s form, the link of the mail, an ID ' +
     'token saying the account is new, its address confirmed', async () => {
  const a = await newAuthorization({ prompt: 'create' });
  const r = await browser(a.url);
  assert.equal(r.status, 303, r.body.slice(0, 500));
  assert.match(r.location ?? '', /^\/account\/register\?continue=/);
  const form = await browser(`${issuer}${r.location}`);
  assert.equal(form.status, 200, form.body.slice(0, 500));
  assert.match(form.body, /continue to <strong>Tea App<\/strong>/);
  const sent = await browser(`${issuer}/account/register`, {
    form: { ...hiddenFields(form.body), email: CUSTOMER.email, display_name: CUSTOMER.name,
            password: CUSTOMER.password },
  });
  assert.equal(sent.status, 200, sent.body.slice(0, 500));
  assert.match(sent.body, /Check your mail/);
  assert.equal(sent.cookies.length, 0);  // nothing exists before the link is used

  const ask = await browser(await mailLink(mainDir, CUSTOMER.email, '/account/register/confirm'));
  assert.equal(ask.status, 200, ask.body.slice(0, 500));
  const made = await browser(`${issuer}/account/register/confirm`, { form: hiddenFields(ask.body) });
  assert.equal(made.status, 303, made.body.slice(0, 500));
  assert.match(made.location ?? '', /^\/oidc\/authorize\?/);
  const cookie = made.cookies.map((c) => c.split(';')[0])
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  assert.ok(cookie, `no session cookie in ${JSON.stringify(made.cookies)}`);
  // Signed in at main: the request goes on to tea-app at once.
  const back = await browser(`${issuer}${made.location}`, { cookie });
  assert.equal(back.status, 303, back.body.slice(0, 500));
  assertCodeRedirect(back.location, a.state);
  const tokens = await client.authorizationCodeGrant(config, new URL(back.location), {
    pkceCodeVerifier: a.verifier,
    expectedState: a.state,
    expectedNonce: a.nonce,
  });
  const claims = tokens.claims();
  assert.equal(claims.email, CUSTOMER.email);
  assert.equal(claims.name, CUSTOMER.name);
  assert.equal(claims.email_verified, true);
  assert.equal(claims.tieup_new_account, true);
  assert.match(await tieup('main', 'users', 'ls', mainDir, '--partner', CLIENT_ID),
               new RegExp(CUSTOMER.email.replace(/\./g, '\\.')));
});

test('sign-in: code flow with PKCE, ID token verified by openid-client, userinfo', async () => {
  const a = await newAuthorization();
  // Not signed in at main: the sign-in page, carrying the request in hidden inputs.
  const page = await browser(a.url);
  assert.equal(page.status, 200, page.body.slice(0, 500));
  assert.match(page.body, /name="password"/);
  assert.match(page.body, /Tea App/);
  const fields = hiddenFields(page.body);
  assert.equal(fields.client_id, CLIENT_ID);
  assert.equal(fields.redirect_uri, redirectUri);
  assert.equal(fields.state, a.state);
  assert.equal(fields.nonce, a.nonce);
  assert.equal(fields.code_challenge_method, 'S256');

  const signedIn = await browser(`${issuer}/oidc/authorize`, {
    form: { ...fields, email: CUSTOMER.email, password: CUSTOMER.password },
  });
  assert.equal(signedIn.status, 303, signedIn.body.slice(0, 500));
  assertCodeRedirect(signedIn.location, a.state);
  session = signedIn.cookies.map((c) => c.split(';')[0])
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`) && c.length > SESSION_COOKIE.length + 1);
  assert.ok(session, `no ${SESSION_COOKIE} cookie in ${JSON.stringify(signedIn.cookies)}`);

  // openid-client checks the response (state, iss), exchanges the code with the verifier and
  // validates the ID token: its ES256 signature by the key of main's JWKS, iss, aud, exp, iat,
  // nonce.
  const tokens = await client.authorizationCodeGrant(config, new URL(signedIn.location), {
    pkceCodeVerifier: a.verifier,
    expectedState: a.state,
    expectedNonce: a.nonce,
  });
  const claims = tokens.claims();
  const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString());
  assert.equal(header.alg, 'ES256');
  const jwks = await (await fetch(config.serverMetadata().jwks_uri)).json();
  assert.ok(jwks.keys.some((k) => k.kty === 'EC' && k.crv === 'P-256' &&
                                  (header.kid === undefined || k.kid === header.kid)),
            `no P-256 key for ${JSON.stringify(header)} in ${JSON.stringify(jwks)}`);
  assert.match(claims.sub, /^usr_/);
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, CLIENT_ID);
  assert.equal(claims.nonce, a.nonce);
  assert.equal(claims.name, CUSTOMER.name);
  assert.equal(claims.email, CUSTOMER.email);
  assert.equal(claims.email_verified, true);
  assert.equal(claims.tieup_new_account, undefined);  // told once, at the registration
  assert.equal(tokens.token_type, 'bearer');  // as openid-client normalizes it
  assert.ok(tokens.expires_in > 0 && tokens.expires_in <= 300, `expires_in ${tokens.expires_in}`);
  assert.ok(claims.exp - claims.iat <= 300, `exp ${claims.exp}, iat ${claims.iat}`);
  assert.ok(typeof tokens.access_token === 'string' && tokens.access_token.length >= 20);

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.sub, claims.sub);
  assert.equal(info.name, CUSTOMER.name);
  assert.equal(info.email, CUSTOMER.email);
  first = { location: signedIn.location, state: a.state, nonce: a.nonce, verifier: a.verifier,
            tokens };
});

test('a code used a second time: invalid_grant, and the access token of its first use is revoked',
     async () => {
  assert.ok(first, 'needs the sign-in above');
  await assertOAuthError(() => client.authorizationCodeGrant(config, new URL(first.location), {
    pkceCodeVerifier: first.verifier,
    expectedState: first.state,
    expectedNonce: first.nonce,
  }), 'invalid_grant', 400);
  // The userinfo endpoint refuses the revoked token with a Bearer challenge (RFC 6750).
  await assert.rejects(
    () => client.fetchUserInfo(config, first.tokens.access_token, first.tokens.claims().sub),
    (e) => {
      assert.ok(e instanceof client.WWWAuthenticateChallengeError,
                `${e.constructor.name}: ${e.message}`);
      assert.equal(e.status, 401);
      assert.equal(e.cause[0]?.scheme, 'bearer');
      assert.equal(e.cause[0]?.parameters?.error, 'invalid_token');
      return true;
    });
});

test('single sign-on gives a code without a password; a wrong code_verifier is refused',
     async () => {
  assert.ok(session, 'needs the sign-in above');
  const a = await codeBySingleSignOn();
  await assertOAuthError(() => client.authorizationCodeGrant(config, new URL(a.location), {
    pkceCodeVerifier: client.randomPKCECodeVerifier(),
    expectedState: a.state,
    expectedNonce: a.nonce,
  }), 'invalid_grant', 400);
});

test('a wrong client secret: the code exchange fails with invalid_client (401)', async () => {
  assert.ok(session, 'needs the sign-in above');
  const wrong = await client.discovery(new URL(issuer), CLIENT_ID, `${secret.slice(0, -4)}AAAA`,
                                       undefined, { execute: [client.allowInsecureRequests] });
  const a = await codeBySingleSignOn();
  let error;
  try {
    await client.authorizationCodeGrant(wrong, new URL(a.location), {
      pkceCodeVerifier: a.verifier,
      expectedState: a.state,
      expectedNonce: a.nonce,
    });
  } catch (e) {
    error = e;
  }
  assert.ok(error, 'the exchange with a wrong secret succeeded');
  assert.equal(error.status, 401, `${error.constructor.name}: ${error.message}`);
  // Main answers 401 with a WWW-Authenticate challenge (RFC 6749 5.2), which openid-client
  // reports as such without reading the body; the body holds the OAuth error.
  if (error instanceof client.ResponseBodyError) {
    assert.equal(error.error, 'invalid_client');
  } else {
    assert.ok(error instanceof client.WWWAuthenticateChallengeError,
              `${error.constructor.name}: ${error.message}`);
    assert.equal(error.cause[0]?.scheme, 'basic');
    assert.equal((await error.response.json()).error, 'invalid_client');
  }
});

test('sign out everywhere from openid-client\'s end-session URL', async () => {
  assert.ok(session, 'needs the sign-in above');
  const state = client.randomState();
  const url = client.buildEndSessionUrl(config, { post_logout_redirect_uri: postLogoutUri, state });
  const page = await browser(url, { cookie: session });
  assert.equal(page.status, 200, page.body.slice(0, 500));
  assert.match(page.body, /Sign out everywhere\?/);
  const fields = hiddenFields(page.body);
  assert.ok(fields.csrf, `no csrf field in ${JSON.stringify(fields)}`);
  assert.equal(fields.client_id, CLIENT_ID);
  assert.equal(fields.post_logout_redirect_uri, postLogoutUri);
  assert.equal(fields.state, state);

  const out = await browser(`${issuer}/oidc/logout`, { cookie: session, form: fields });
  assert.equal(out.status, 303, out.body.slice(0, 500));
  assert.ok(out.location?.startsWith(`${postLogoutUri}?`), `Location ${out.location}`);
  assert.equal(new URL(out.location).searchParams.get('state'), state);

  // The old cookie signs in no more: the password form again.
  const again = await newAuthorization();
  const r = await browser(again.url, { cookie: session });
  assert.equal(r.status, 200, `${r.status} Location ${r.location}`);
  assert.equal(r.location, null);
  assert.match(r.body, /name="password"/);
});

test('bad authorization requests: no redirect to unregistered places; no PKCE: invalid_request',
     async () => {
  // A redirect URI tea-app did not register: an error page, never a redirect.
  const elsewhere = await newAuthorization({ redirect_uri: `${redirectUri}/elsewhere` });
  let r = await browser(elsewhere.url);
  assert.equal(r.status, 400);
  assert.equal(r.location, null);
  assert.doesNotMatch(r.body, /name="password"/);

  // An unknown client: the same.
  const unknown = new URL(elsewhere.url);
  unknown.searchParams.set('client_id', 'no-such-app');
  unknown.searchParams.set('redirect_uri', redirectUri);
  r = await browser(unknown);
  assert.equal(r.status, 400);
  assert.equal(r.location, null);

  // No code_challenge: back to the registered redirect URI with the error, which openid-client
  // reads (with state and iss checked) as the authorization server's refusal.
  const noPkce = await newAuthorization();
  const url = new URL(noPkce.url);
  url.searchParams.delete('code_challenge');
  url.searchParams.delete('code_challenge_method');
  r = await browser(url);
  assert.equal(r.status, 303, r.body.slice(0, 500));
  assert.ok(r.location?.startsWith(`${redirectUri}?`), `Location ${r.location}`);
  const q = new URL(r.location).searchParams;
  assert.equal(q.get('error'), 'invalid_request');
  assert.equal(q.get('state'), noPkce.state);
  assert.equal(q.get('code'), null);
  await assert.rejects(() => client.authorizationCodeGrant(config, new URL(r.location), {
    pkceCodeVerifier: noPkce.verifier,
    expectedState: noPkce.state,
  }), (e) => {
    assert.ok(e instanceof client.AuthorizationResponseError,
              `${e.constructor.name}: ${e.message}`);
    assert.equal(e.error, 'invalid_request');
    return true;
  });
});
