//! A fake Azure Key Vault (secrets GET only) over HTTPS on 127.0.0.1.
//!
//! It answers like the real service: an unauthenticated request gets the 401
//! bearer challenge, a known token gets the secret bundle, unknown names get
//! `SecretNotFound`, denied names get `Forbidden`. Faults and delays are set per
//! secret. Its request log never holds a value or a token.

use crate::http::{Handler, Reply, Request, Server};
use crate::tls::TestCa;
use crate::{random_hex, TokenBook};
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The tenant the fake challenge names.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// One request the vault saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultRequest {
    pub method: String,
    /// Path without the query, e.g. `/secrets/db-password/`.
    pub path: String,
    /// The secret name the path addressed, if any.
    pub secret: Option<String>,
    /// Whether it carried a bearer token the identity fake had issued.
    pub authorized: bool,
    pub status: u16,
    /// The `api-version` it asked for.
    pub api_version: Option<String>,
    /// When it arrived.
    pub at: std::time::Instant,
}

/// A scripted failure: answer `status` (with an optional `Retry-After`) to the
/// next `times` authorized requests for a secret.
#[derive(Clone, Debug)]
pub struct Fault {
    pub status: u16,
    pub times: usize,
    pub retry_after: Option<String>,
    /// Wait this long, then close the connection without answering.
    pub hang_up_after: Option<Duration>,
    /// Answer with this `Location` (a redirect).
    pub location: Option<String>,
    /// Answer 401 with a bearer challenge naming this resource.
    pub challenge: Option<String>,
    /// Answer even a request without a token (a hostile vault's first challenge).
    pub unauthenticated: bool,
    /// Answer 401 with continuous access evaluation's claims challenge.
    pub claims: bool,
}

impl Fault {
    pub fn status(status: u16, times: usize) -> Fault {
        Fault {
            status,
            times,
            retry_after: None,
            hang_up_after: None,
            location: None,
            challenge: None,
            unauthenticated: false,
            claims: false,
        }
    }

    /// `times` answers of 401 with a claims challenge (`error="insufficient_claims"`),
    /// as Key Vault sends when continuous access evaluation revokes a token.
    pub fn claims_challenge(times: usize) -> Fault {
        Fault {
            claims: true,
            ..Fault::status(401, times)
        }
    }

    /// `times` answers of 401 naming `resource`, from the very first request
    /// (the one without a token), as a vault that wants another audience would.
    pub fn hostile_challenge(resource: &str, times: usize) -> Fault {
        Fault {
            unauthenticated: true,
            ..Fault::challenge(resource, times)
        }
    }

    /// `times` answers of 401 with a challenge for `resource` (e.g. `https://vault.azure.net`),
    /// even to a request that carries a valid token.
    pub fn challenge(resource: &str, times: usize) -> Fault {
        Fault {
            challenge: Some(resource.to_string()),
            ..Fault::status(401, times)
        }
    }

    /// `times` answers of `302 Found` pointing at `location`.
    pub fn redirect(location: &str, times: usize) -> Fault {
        Fault {
            location: Some(location.to_string()),
            ..Fault::status(302, times)
        }
    }

    /// Wait `after`, then close the connection without an answer, `times` times.
    pub fn hang_up(after: Duration, times: usize) -> Fault {
        Fault {
            hang_up_after: Some(after),
            ..Fault::status(500, times)
        }
    }

    pub fn retry_after(mut self, value: &str) -> Fault {
        self.retry_after = Some(value.to_string());
        self
    }
}

struct Version {
    id: String,
    value: String,
    enabled: bool,
    meta: SecretMeta,
}

/// What the vault says about a version besides its value.
#[derive(Clone, Debug, Default)]
pub struct SecretMeta {
    /// `contentType` (absent when `None`).
    pub content_type: Option<String>,
    /// `attributes.nbf` and `attributes.exp`, seconds since the epoch.
    pub not_before: Option<i64>,
    pub expires: Option<i64>,
}

#[derive(Default)]
struct State {
    secrets: HashMap<String, Vec<Version>>,
    denied: HashSet<String>,
    faults: HashMap<String, VecDeque<Fault>>,
    delays: HashMap<String, Duration>,
    /// The `id` to answer with instead of the real one (hostile answers).
    ids: HashMap<String, String>,
    delay_all: Duration,
    limit: Option<RateLimit>,
    log: Vec<VaultRequest>,
}

/// A Key Vault-like service limit: at most `limit` requests per `window`;
/// beyond it, 429 with `Retry-After` (whole seconds until the window ends).
/// Throttled requests do not count against the limit.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    pub limit: usize,
    pub window: Duration,
    started: Option<std::time::Instant>,
    used: usize,
}

impl RateLimit {
    pub fn new(limit: usize, window: Duration) -> RateLimit {
        RateLimit {
            limit,
            window,
            started: None,
            used: 0,
        }
    }

    /// `None` if the request may pass, else the seconds to wait.
    pub(crate) fn check(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        let started = *self.started.get_or_insert(now);
        if now.duration_since(started) >= self.window {
            self.started = Some(now);
            self.used = 0;
        }
        if self.used < self.limit {
            self.used += 1;
            return None;
        }
        let left = self
            .window
            .saturating_sub(now.duration_since(self.started.unwrap()));
        Some(left.as_secs_f64().ceil().max(1.0) as u64)
    }
}

pub struct FakeVault {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl FakeVault {
    pub fn start(ca: &TestCa, tokens: TokenBook) -> FakeVault {
        Self::start_with(ca.server_config(&Self::NAMES), tokens)
    }

    /// A vault that speaks only HTTP/1.1 (no `h2` in ALPN).
    pub fn start_http1(ca: &TestCa, tokens: TokenBook) -> FakeVault {
        Self::start_with(ca.server_config_http1(&Self::NAMES), tokens)
    }

    const NAMES: [&'static str; 6] = [
        "localhost",
        "*.vault.azure.net",
        "*.vault.azure.cn",
        "*.vault.usgovcloudapi.net",
        "*.vault.sovcloud-api.fr",
        "*.vault.sovcloud-api.de",
    ];

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.server
            .stats
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Connections that negotiated HTTP/2.
    pub fn http2_connections(&self) -> usize {
        self.server
            .stats
            .http2
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// TLS handshakes that resumed an earlier session.
    pub fn resumed_handshakes(&self) -> usize {
        self.server
            .stats
            .resumed
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn start_with(tls: std::sync::Arc<rustls::ServerConfig>, tokens: TokenBook) -> FakeVault {
        let state = Arc::new(Mutex::new(State::default()));
        let handler: Handler = {
            let state = state.clone();
            Arc::new(move |req| handle(&state, &tokens, req))
        };
        let server = Server::start(Some(tls), handler);
        FakeVault { server, state }
    }

    /// `127.0.0.1:PORT`, what `--allow-host` takes.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    pub fn port(&self) -> u16 {
        self.server.addr.port()
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://{}", self.host())
    }

    /// The `SecretUri=` of the latest version of `name`.
    pub fn secret_uri(&self, name: &str) -> String {
        format!("{}/secrets/{name}/", self.url())
    }

    /// A whole reference to the latest version of `name`.
    pub fn reference(&self, name: &str) -> String {
        format!("@Microsoft.KeyVault(SecretUri={})", self.secret_uri(name))
    }

    /// Adds a new version of `name` (creating the secret) and returns its version id.
    pub fn set_secret(&self, name: &str, value: &str) -> String {
        self.set_secret_with(name, value, SecretMeta::default())
    }

    /// Adds a new version of `name` with a `contentType` and dates.
    pub fn set_secret_with(&self, name: &str, value: &str, meta: SecretMeta) -> String {
        let id = random_hex(32);
        self.state
            .lock()
            .unwrap()
            .secrets
            .entry(name.to_string())
            .or_default()
            .push(Version {
                id: id.clone(),
                value: value.to_string(),
                enabled: true,
                meta,
            });
        id
    }

    /// Marks the latest version of `name` disabled.
    pub fn disable(&self, name: &str) {
        if let Some(v) = self
            .state
            .lock()
            .unwrap()
            .secrets
            .get_mut(name)
            .and_then(|v| v.last_mut())
        {
            v.enabled = false;
        }
    }

    /// Requests for `name` get 403 Forbidden (the identity lacks a role).
    pub fn deny(&self, name: &str) {
        self.state.lock().unwrap().denied.insert(name.to_string());
    }

    /// Queues a fault for `name`; faults run in the order queued.
    pub fn fault(&self, name: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(name.to_string())
            .or_default()
            .push_back(fault);
    }

    /// Every answer about `name` is delayed this long.
    /// Answer every GET of `name` with this `id` in the bundle (a hostile or
    /// broken vault: another secret's id, control characters, a huge version).
    pub fn answer_with_id(&self, name: &str, id: &str) {
        self.state
            .lock()
            .unwrap()
            .ids
            .insert(name.to_string(), id.to_string());
    }

    pub fn delay(&self, name: &str, delay: Duration) {
        self.state
            .lock()
            .unwrap()
            .delays
            .insert(name.to_string(), delay);
    }

    /// Enforce a service limit (see [`RateLimit`]).
    pub fn rate_limit(&self, limit: RateLimit) {
        self.state.lock().unwrap().limit = Some(limit);
    }

    /// Every answer is delayed this long (network latency).
    pub fn delay_all(&self, delay: Duration) {
        self.state.lock().unwrap().delay_all = delay;
    }

    pub fn requests(&self) -> Vec<VaultRequest> {
        self.state.lock().unwrap().log.clone()
    }

    /// Authorized GETs of secret `name`.
    pub fn gets_of(&self, name: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.authorized && r.secret.as_deref() == Some(name))
            .count()
    }

    /// Every secret value the vault holds (for leak sweeps).
    pub fn values(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .secrets
            .values()
            .flatten()
            .map(|v| v.value.clone())
            .collect()
    }
}

fn handle(state: &Mutex<State>, tokens: &TokenBook, req: Request) -> Reply {
    let authorized = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| tokens.contains(t));
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let (name, version) = match segments.as_slice() {
        ["secrets", name] | ["secrets", name, ""] => (Some(*name), None),
        ["secrets", name, version] => (Some(*name), Some(*version)),
        _ => (None, None),
    };
    let mut state = state.lock().unwrap();
    let throttled = state.limit.as_mut().and_then(RateLimit::check);
    let mut reply = match throttled {
        Some(seconds) => Reply::json(
            429,
            json!({"error": {"code": "Throttled", "message": "Operations per second is over the limit."}}),
        )
        .header("retry-after", &seconds.to_string()),
        None => answer(&mut state, authorized, &req, name, version),
    };
    reply.delay += state.delay_all
        + name
            .and_then(|n| state.delays.get(n).copied())
            .unwrap_or_default();
    state.log.push(VaultRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        secret: name.map(str::to_string),
        authorized,
        status: if reply.hang_up { 0 } else { reply.status },
        api_version: req.query("api-version").map(str::to_string),
        at: std::time::Instant::now(),
    });
    reply
}

fn answer(
    state: &mut State,
    authorized: bool,
    req: &Request,
    name: Option<&str>,
    version: Option<&str>,
) -> Reply {
    let hostile_first = name
        .and_then(|n| state.faults.get(n))
        .and_then(|q| q.front())
        .is_some_and(|f| f.unauthenticated);
    if !authorized && !hostile_first {
        // The resource is the cloud's Key Vault audience, as the real service names it.
        let host = req.header("host").unwrap_or_default();
        let resource = ["vault.azure.cn", "vault.usgovcloudapi.net"]
            .into_iter()
            .find(|suffix| host.split(':').next().unwrap_or_default().ends_with(suffix))
            .unwrap_or("vault.azure.net");
        let reply = Reply::json(
            401,
            json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}),
        );
        return reply.header(
            "www-authenticate",
            &format!(
                "Bearer authorization=\"https://login.microsoftonline.com/{TENANT}\", resource=\"https://{resource}\""
            ),
        );
    }
    if (req.method != "GET" || req.query("api-version").is_none()) && !hostile_first {
        return Reply::json(
            400,
            json!({"error": {"code": "BadParameter", "message": "only GET /secrets/NAME[/VERSION]?api-version= is faked"}}),
        );
    }
    let Some(name) = name else {
        return Reply::json(
            404,
            json!({"error": {"code": "NotFound", "message": "unknown path"}}),
        );
    };
    if let Some(queue) = state.faults.get_mut(name) {
        if let Some(fault) = queue.front_mut() {
            let current = fault.clone();
            fault.times -= 1;
            if fault.times == 0 {
                queue.pop_front();
            }
            if let Some(after) = current.hang_up_after {
                let mut reply = Reply::json(500, json!({}));
                reply.hang_up = true;
                reply.delay = after;
                return reply;
            }
            let mut reply = Reply::json(
                current.status,
                json!({"error": {"code": "Throttled", "message": "injected fault"}}),
            );
            if let Some(after) = &current.retry_after {
                reply = reply.header("retry-after", after);
            }
            if let Some(location) = &current.location {
                reply = reply.header("location", location);
            }
            if current.claims {
                reply = reply.header(
                    "www-authenticate",
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", error=\"insufficient_claims\", claims=\"eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTcwMDAwMDAwMCJ9fX0=\"",
                );
            }
            if let Some(resource) = &current.challenge {
                reply = reply.header(
                    "www-authenticate",
                    &format!("Bearer authorization=\"https://login.microsoftonline.com/{TENANT}\", resource=\"{resource}\""),
                );
            }
            return reply;
        }
    }
    if state.denied.contains(name) {
        return Reply::json(
            403,
            json!({"error": {
                "code": "Forbidden",
                "message": format!("Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=00000000-0000-0000-0000-000000000000;oid=00000000-0000-0000-0000-000000000000;iss=https://sts.windows.net/{TENANT}/\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: 'secrets/{name}'\r\nAssignment: (not found)\r\n"),
                "innererror": {"code": "ForbiddenByRbac"}
            }}),
        );
    }
    let host = req.header("host").unwrap_or("127.0.0.1");
    let found = state.secrets.get(name).and_then(|versions| match version {
        None => versions.last(),
        Some(v) => versions.iter().find(|x| x.id == v),
    });
    let Some(found) = found else {
        let what = match version {
            Some(v) => format!("{name}/{v}"),
            None => name.to_string(),
        };
        return Reply::json(
            404,
            json!({"error": {"code": "SecretNotFound", "message": format!("A secret with (name/id) {what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182")}}),
        );
    };
    if !found.enabled {
        return Reply::json(
            403,
            json!({"error": {"code": "Forbidden", "message": "Operation get is not allowed on a disabled secret.", "innererror": {"code": "SecretDisabled"}}}),
        );
    }
    let id = state
        .ids
        .get(name)
        .cloned()
        .unwrap_or_else(|| format!("https://{host}/secrets/{name}/{}", found.id));
    let mut attributes = json!({
        "enabled": true,
        "created": 1_700_000_000,
        "updated": 1_700_000_000,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90
    });
    if let Some(nbf) = found.meta.not_before {
        attributes["nbf"] = json!(nbf);
    }
    if let Some(exp) = found.meta.expires {
        attributes["exp"] = json!(exp);
    }
    let mut body = json!({
        "value": found.value,
        "id": id,
        "attributes": attributes,
        "tags": {}
    });
    if let Some(ct) = &found.meta.content_type {
        body["contentType"] = json!(ct);
    }
    Reply::json(200, body)
}
