// A real, OpenID Certified provider (the `oidc-provider` package) for the integration tests,
// configured from one JSON argument and listening on 127.0.0.1 only:
//
//   node oidc-provider.mjs '{"port":0,"issuer":"http://127.0.0.1:{port}/", "accounts":"/tmp/a.json",
//                            "client":{...client metadata...}, "authMethods":[...], "acrValues":[...]}'
//
// - `issuer` may contain `{port}`: the port actually bound (port 0 takes a free one).
// - `accounts`: a JSON file `{ "<id>": { "claims": {...}, "acr": "...", "amr": [...] } }`, read
//   on every use, so a test can change who a person is between two logins.
// - Interactions are a plain login form (the account id) with an "Annulla" link that aborts
//   the request (`access_denied`), and an automatic consent.
// Prints `listening <issuer>` once ready. Everything stays on this machine.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const options = JSON.parse(process.argv[2] ?? '{}');

function accounts() {
  return JSON.parse(readFileSync(options.accounts, 'utf8'));
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signing = { ...privateKey.export({ format: 'jwk' }), kid: 'prova-1', use: 'sig', alg: 'RS256' };

const server = createServer();
await new Promise((resolve) => { server.listen(options.port ?? 0, '127.0.0.1', resolve); });
const { port } = server.address();
const issuer = options.issuer.replace('{port}', String(port));

const configuration = {
  clients: [options.client],
  clientAuthMethods: options.authMethods
    ?? ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
  acrValues: options.acrValues ?? [],
  // `amr` (how the person logged in) goes in every ID token, `acr` when asked (acr_values).
  claims: {
    openid: ['sub', 'amr'],
    acr: null,
    auth_time: null,
    email: ['email', 'email_verified'],
    profile: ['name', 'family_name', 'given_name'],
  },
  jwks: { keys: [signing] },
  cookies: { keys: ['chiave-dei-cookie-di-prova'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() { return { sub: id, ...account.claims }; },
    };
  },
  // The client's keys (private_key_jwt) are published by the service under test on
  // 127.0.0.1, which the provider's protection against requests to local addresses refuses.
  fetch(url, init) {
    const { dispatcher, ...rest } = init;
    return globalThis.fetch(url, rest);
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => { console.error('server_error', err); });
const callback = provider.callback();

function body(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(new URLSearchParams(data)));
    req.on('error', reject);
  });
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return;
  }
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    if (req.method === 'POST') {
      const id = (await body(req)).get('login') ?? '';
      const account = accounts()[id];
      if (!account) {
        res.writeHead(422, { 'content-type': 'text/plain' }).end('unknown account');
        return;
      }
      await provider.interactionFinished(req, res, {
        login: { accountId: id, acr: account.acr, amr: account.amr },
      }, { mergeWithLastSubmission: false });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Accesso</title>
<form method="post" action="/interaction/${uid}"><input name="login"><button>Accedi</button></form>
<a id="annulla" href="/interaction/${uid}/abort">Annulla</a>`);
    return;
  }
  // Consent: everything asked is granted at once.
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    consent: details.grantId ? {} : { grantId },
  }, { mergeWithLastSubmission: true });
}

server.on('request', (req, res) => {
  const match = /^\/interaction\/([^/?]+)(\/abort)?/.exec(req.url);
  if (!match) {
    callback(req, res);
    return;
  }
  interaction(req, res, match[1], match[2] ? 'abort' : 'show').catch((err) => {
    console.error('interaction failed', err);
    if (!res.headersSent) res.writeHead(500).end('interaction failed');
  });
});

process.on('SIGTERM', () => { server.close(); process.exit(0); });
console.log(`listening ${issuer}`);
