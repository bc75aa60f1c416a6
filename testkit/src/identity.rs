//! Fake managed-identity endpoints on plain HTTP, as in Azure: the App Service /
//! Container Apps endpoint (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER`) and IMDS
//! (`/metadata/identity/oauth2/token` + `Metadata: true`).

use crate::http::{Handler, Reply, Request, Server};
use crate::{random_hex, TokenBook};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityKind {
    AppService,
    Imds,
    /// Azure Cloud Shell: `MSI_ENDPOINT`, POST with a form body.
    CloudShell,
    /// Azure Arc: `IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`; the first request gets a
    /// `Basic realm=` challenge naming a key file written to [`ARC_TOKEN_FOLDER`].
    Arc,
}

/// Where the Arc agent (and this fake) writes challenge key files.
pub const ARC_TOKEN_FOLDER: &str = "/var/opt/azcmagent/tokens";

/// One token request the endpoint saw (never the identity header's value).
#[derive(Clone, Debug)]
pub struct IdentityRequest {
    pub method: String,
    pub path: String,
    /// Query parameters (`api-version`, `resource`, `client_id`, ...).
    pub query: Vec<(String, String)>,
    /// `X-IDENTITY-HEADER` was present and right (App Service).
    pub identity_header_ok: bool,
    /// `Metadata: true` was present (IMDS).
    pub metadata_header: bool,
    pub status: u16,
}

impl IdentityRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the next token request gets instead of a token.
#[derive(Clone, Debug)]
enum Misbehaviour {
    Status(u16, Option<String>),
    /// 200 with a body that is not JSON.
    Garbage,
    /// Close the connection without answering.
    HangUp,
    /// A token that expired an hour ago.
    Expired,
}

struct State {
    /// At most this many token requests per second; beyond, 429 with Retry-After: 1.
    per_second: Option<crate::vault::RateLimit>,
    /// The content of the last Arc challenge file written.
    arc_key: Option<String>,
    /// Challenge files written, removed when the fake stops.
    arc_files: Vec<String>,
    faults: VecDeque<Misbehaviour>,
    delay: Duration,
    /// How long issued tokens live, in seconds (a day less a second by default).
    lifetime: u64,
    /// Tokens to hand out before any new one is made up.
    queued: VecDeque<String>,
    log: Vec<IdentityRequest>,
}

pub struct FakeIdentity {
    server: Server,
    kind: IdentityKind,
    header: String,
    state: Arc<Mutex<State>>,
}

impl FakeIdentity {
    pub fn start(kind: IdentityKind, tokens: TokenBook) -> FakeIdentity {
        let header = random_hex(24);
        let state = Arc::new(Mutex::new(State {
            per_second: None,
            arc_key: None,
            arc_files: Vec::new(),
            faults: VecDeque::new(),
            delay: Duration::ZERO,
            lifetime: 86_399,
            queued: VecDeque::new(),
            log: Vec::new(),
        }));
        let handler: Handler = {
            let state = state.clone();
            let header = header.clone();
            Arc::new(move |req| handle(kind, &header, &state, &tokens, req))
        };
        FakeIdentity {
            server: Server::start(None, handler),
            kind,
            header,
            state,
        }
    }

    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    pub fn port(&self) -> u16 {
        self.server.addr.port()
    }

    /// The secret App Service puts in `IDENTITY_HEADER`.
    pub fn identity_header(&self) -> &str {
        &self.header
    }

    /// Environment variables that point a credential at this endpoint.
    pub fn env(&self) -> Vec<(String, String)> {
        let base = format!("http://127.0.0.1:{}", self.port());
        match self.kind {
            IdentityKind::AppService => vec![
                ("IDENTITY_ENDPOINT".into(), format!("{base}/msi/token")),
                ("IDENTITY_HEADER".into(), self.header.clone()),
            ],
            IdentityKind::Imds => vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST".into(), base)],
            IdentityKind::CloudShell => {
                vec![("MSI_ENDPOINT".into(), format!("{base}/oauth2/token"))]
            }
            IdentityKind::Arc => vec![
                (
                    "IDENTITY_ENDPOINT".into(),
                    format!("{base}/metadata/identity/oauth2/token"),
                ),
                ("IMDS_ENDPOINT".into(), base),
            ],
        }
    }

    /// The next `times` token requests get `status` (with an optional Retry-After).
    pub fn fail_next(&self, status: u16, times: usize, retry_after: Option<&str>) {
        let mut state = self.state.lock().unwrap();
        for _ in 0..times {
            state.faults.push_back(Misbehaviour::Status(
                status,
                retry_after.map(str::to_string),
            ));
        }
    }

    /// At most `limit` token requests per second (IMDS allows about 20 per VM).
    pub fn rate_limit(&self, limit: usize) {
        self.state.lock().unwrap().per_second =
            Some(crate::vault::RateLimit::new(limit, Duration::from_secs(1)));
    }

    /// The next token request gets `200` with a body that is not JSON.
    pub fn garbage_next(&self) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push_back(Misbehaviour::Garbage);
    }

    /// The next token request has its connection closed without an answer.
    pub fn hang_up_next(&self) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push_back(Misbehaviour::HangUp);
    }

    /// The next token request gets a token that expired an hour ago.
    pub fn expired_next(&self) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push_back(Misbehaviour::Expired);
    }

    /// The next token request gets `token` (one from the token book's
    /// `issue`, so that the leak sweep knows it).
    pub fn next_token(&self, token: &str) {
        self.state
            .lock()
            .unwrap()
            .queued
            .push_back(token.to_string());
    }

    /// Tokens issued from now on live `seconds`.
    pub fn token_lifetime(&self, seconds: u64) {
        self.state.lock().unwrap().lifetime = seconds;
    }

    pub fn delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn requests(&self) -> Vec<IdentityRequest> {
        self.state.lock().unwrap().log.clone()
    }

    /// Token requests answered with a token.
    /// The `resource` of every token request, in order.
    pub fn resources(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| r.param("resource").map(str::to_string))
            .collect()
    }

    pub fn tokens_issued(&self) -> usize {
        self.requests().iter().filter(|r| r.status == 200).count()
    }
}

impl Drop for FakeIdentity {
    fn drop(&mut self) {
        if let Ok(state) = self.state.lock() {
            for file in &state.arc_files {
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

fn handle(
    kind: IdentityKind,
    header: &str,
    state: &Mutex<State>,
    tokens: &TokenBook,
    mut req: Request,
) -> Reply {
    // Cloud Shell sends its parameters as a form body; log them like a query.
    let form = req.form();
    req.query.extend(form);
    let identity_header_ok = req.header("x-identity-header") == Some(header);
    let metadata_header = req.header("metadata") == Some("true");
    let mut state = state.lock().unwrap();
    let mut reply = answer(
        kind,
        identity_header_ok,
        metadata_header,
        &mut state,
        tokens,
        &req,
    );
    reply.delay += state.delay;
    state.log.push(IdentityRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        identity_header_ok,
        metadata_header,
        status: reply.status,
    });
    reply
}

fn answer(
    kind: IdentityKind,
    identity_header_ok: bool,
    metadata_header: bool,
    state: &mut State,
    tokens: &TokenBook,
    req: &Request,
) -> Reply {
    match kind {
        IdentityKind::AppService if !identity_header_ok => {
            return Reply::json(
                401,
                json!({"statusCode": 401, "message": "Unauthorized request: the X-IDENTITY-HEADER is missing or wrong."}),
            )
        }
        IdentityKind::Imds if req.path != "/metadata/identity/oauth2/token" => {
            return Reply::json(
                404,
                json!({"error": "not_found", "error_description": "unknown path"}),
            )
        }
        IdentityKind::Arc => {
            let presented = req
                .header("authorization")
                .and_then(|a| a.strip_prefix("Basic "));
            match (&state.arc_key, presented) {
                (Some(key), Some(p)) if key == p => {}
                _ => {
                    let key = random_hex(32);
                    let path = format!("{ARC_TOKEN_FOLDER}/{}.key", random_hex(12));
                    if std::fs::write(&path, &key).is_err() {
                        return Reply::json(
                            500,
                            json!({"error": "cannot write the challenge file"}),
                        );
                    }
                    state.arc_key = Some(key);
                    state.arc_files.push(path.clone());
                    return Reply::json(401, json!({"error": "unauthorized"}))
                        .header("www-authenticate", &format!("Basic realm={path}"));
                }
            }
        }
        IdentityKind::CloudShell if req.method != "POST" => {
            return Reply::json(
                405,
                json!({"error": "invalid_request", "error_description": "POST only"}),
            )
        }
        IdentityKind::Imds | IdentityKind::CloudShell if !metadata_header => {
            return Reply::json(
                400,
                json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
            )
        }
        _ => {}
    }
    if let Some(seconds) = state.per_second.as_mut().and_then(|l| l.check()) {
        return Reply::json(
            429,
            json!({"error": "too_many_requests", "error_description": "throttled"}),
        )
        .header("retry-after", &seconds.to_string());
    }
    let mut expired = false;
    match state.faults.pop_front() {
        Some(Misbehaviour::Status(status, retry_after)) => {
            let reply = Reply::json(
                status,
                json!({"error": "temporarily_unavailable", "error_description": "injected fault"}),
            );
            return match retry_after {
                Some(after) => reply.header("retry-after", &after),
                None => reply,
            };
        }
        Some(Misbehaviour::Garbage) => {
            let mut reply = Reply::json(200, json!(null));
            reply.body = b"<html>502 Bad Gateway</html>".to_vec();
            return reply;
        }
        Some(Misbehaviour::HangUp) => {
            let mut reply = Reply::json(500, json!(null));
            reply.hang_up = true;
            return reply;
        }
        Some(Misbehaviour::Expired) => expired = true,
        None => {}
    }
    let Some(resource) = req.query("resource") else {
        return Reply::json(
            400,
            json!({"error": "invalid_request", "error_description": "Required query variable 'resource' is missing"}),
        );
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lifetime = state.lifetime;
    let expires_on = if expired { now - 3600 } else { now + lifetime };
    let client_id = req
        .query("client_id")
        .unwrap_or("11111111-1111-1111-1111-111111111111");
    // Both endpoints send the numbers as JSON strings, as the real ones do.
    Reply::json(
        200,
        json!({
            "access_token": state.queued.pop_front().unwrap_or_else(|| tokens.issue()),
            "client_id": client_id,
            "expires_in": lifetime.to_string(),
            "expires_on": expires_on.to_string(),
            "ext_expires_in": lifetime.to_string(),
            "not_before": (expires_on - lifetime).to_string(),
            "resource": resource,
            "token_type": "Bearer"
        }),
    )
}
