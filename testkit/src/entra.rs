//! A fake Entra ID token endpoint over HTTPS: `POST /{tenant}/oauth2/v2.0/token`
//! with a client secret or a client assertion (workload identity), answering
//! with a token or an AADSTS-style error body.

use crate::http::{Handler, Reply, Request, Server};
use crate::tls::TestCa;
use crate::TokenBook;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One token request Entra saw. `assertion` is kept so tests can check that a
/// rotated federated token was re-read; client secrets are never logged.
#[derive(Clone, Debug)]
pub struct EntraRequest {
    pub tenant: String,
    pub client_id: Option<String>,
    pub grant_type: Option<String>,
    pub scope: Option<String>,
    pub had_secret: bool,
    pub assertion: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    secrets: HashMap<String, String>,
    log: Vec<EntraRequest>,
}

pub struct FakeEntra {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl FakeEntra {
    pub fn start(ca: &TestCa, tokens: TokenBook) -> FakeEntra {
        let state = Arc::new(Mutex::new(State::default()));
        let handler: Handler = {
            let state = state.clone();
            Arc::new(move |req| handle(&state, &tokens, req))
        };
        FakeEntra {
            server: Server::start(Some(ca.server_config(&["localhost"])), handler),
            state,
        }
    }

    /// What `AZURE_AUTHORITY_HOST` should be.
    pub fn authority(&self) -> String {
        format!("https://127.0.0.1:{}", self.server.addr.port())
    }

    /// Registers an application and its client secret.
    pub fn app(&self, client_id: &str, secret: &str) {
        self.state
            .lock()
            .unwrap()
            .secrets
            .insert(client_id.into(), secret.into());
    }

    pub fn requests(&self) -> Vec<EntraRequest> {
        self.state.lock().unwrap().log.clone()
    }
}

fn handle(state: &Mutex<State>, tokens: &TokenBook, req: Request) -> Reply {
    let form: HashMap<String, String> = req.form().into_iter().collect();
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let tenant = match segments.as_slice() {
        [tenant, "oauth2", "v2.0", "token"] => tenant.to_string(),
        _ => String::new(),
    };
    let mut state = state.lock().unwrap();
    let client_id = form.get("client_id").cloned();
    let reply = if req.method != "POST" || tenant.is_empty() {
        Reply::json(404, json!({"error": "not_found"}))
    } else if let Some(secret) = form.get("client_secret") {
        let known = client_id.as_ref().and_then(|c| state.secrets.get(c));
        if known == Some(secret) {
            token(tokens)
        } else {
            aadsts(401, "invalid_client", 7000215, "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
        }
    } else if form.contains_key("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            token(tokens)
        } else {
            aadsts(
                400,
                "invalid_request",
                90014,
                "AADSTS90014: The required field 'client_assertion_type' is missing.",
            )
        }
    } else {
        aadsts(400, "invalid_request", 900144, "AADSTS900144: The request body must contain the following parameter: 'client_secret or client_assertion'.")
    };
    state.log.push(EntraRequest {
        tenant,
        client_id,
        grant_type: form.get("grant_type").cloned(),
        scope: form.get("scope").cloned(),
        had_secret: form.contains_key("client_secret"),
        assertion: form.get("client_assertion").cloned(),
        status: reply.status,
    });
    reply
}

fn token(tokens: &TokenBook) -> Reply {
    Reply::json(
        200,
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tokens.issue()}),
    )
}

fn aadsts(status: u16, error: &str, code: u32, description: &str) -> Reply {
    Reply::json(
        status,
        json!({
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": "2026-11-26 12:00:00Z",
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000"
        }),
    )
}
