//! kvenv's own credential chain (the crate has no DefaultAzureCredential): a
//! list of candidates, each either ready or saying why it is not configured.
//! The first that returns a token wins; when none does, the error lists every
//! candidate in order and why it did not apply or failed.

use super::{ImdsProbe, Unavailable};
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long the IMDS probe waits in `auto` mode before moving on (the other SDKs' order of magnitude).
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

pub(super) struct Candidate {
    name: &'static str,
    state: Result<(Arc<dyn TokenCredential>, String), Unavailable>,
    probe: Option<(reqwest::Client, String)>,
}

impl Candidate {
    pub(super) fn ready(
        name: &'static str,
        credential: Arc<dyn TokenCredential>,
        description: String,
    ) -> Candidate {
        Candidate {
            name,
            state: Ok((credential, description)),
            probe: None,
        }
    }

    pub(super) fn unavailable(name: &'static str, why: Unavailable) -> Candidate {
        Candidate {
            name,
            state: Err(why),
            probe: None,
        }
    }

    /// A candidate of an `auto` chain that `why` narrowed (`AZURE_TOKEN_CREDENTIALS=dev`):
    /// its description says so, wherever it is shown.
    pub(super) fn narrowed_by(mut self, why: String) -> Candidate {
        if let Ok((_, description)) = &mut self.state {
            *description = format!("{description}, chosen by {why}");
        }
        self
    }

    /// Ask `url` first, briefly, whether anything answers there at all.
    pub(super) fn with_probe(mut self, client: reqwest::Client, url: String) -> Candidate {
        self.probe = Some((client, url));
        self
    }

    /// One line for tests: the name and the credential, or why it is not there.
    #[cfg(test)]
    pub(crate) fn summary(&self) -> String {
        match &self.state {
            Ok((_, description)) if self.probe.is_some() => {
                format!("{}: {description}, probed first", self.name)
            }
            Ok((_, description)) => format!("{}: {description}", self.name),
            Err(why) => format!("{}: not configured: {why}", self.name),
        }
    }

    pub(super) fn describe(&self) -> String {
        match &self.state {
            Ok((_, description)) => description.clone(),
            Err(_) => self.name.to_string(),
        }
    }
}

pub(super) struct Chain {
    candidates: Vec<Candidate>,
    chosen: Arc<OnceLock<String>>,
    /// What narrowed an `auto` chain (`AZURE_TOKEN_CREDENTIALS=dev`), for the
    /// line that says none worked.
    narrowed: Option<String>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.candidates.iter().map(|c| c.name).collect();
        f.debug_struct("Chain").field("candidates", &names).finish()
    }
}

impl Chain {
    pub(super) fn new(
        candidates: Vec<Candidate>,
        chosen: Arc<OnceLock<String>>,
        narrowed: Option<String>,
    ) -> Chain {
        Chain {
            candidates,
            chosen,
            narrowed,
        }
    }
}

/// IMDS answers anything, even a request without `Metadata: true`, at once;
/// a laptop has nothing there and the connection fails or hangs. The probe
/// goes through the same pipeline as every request (one log line), untried.
async fn probe(client: &reqwest::Client, url: &str) -> Result<(), ImdsProbe> {
    let target = url::Url::parse(url).map_err(|error| ImdsProbe::NotAUrl {
        url: url.to_string(),
        error,
    })?;
    let host = crate::http::authority(&target);
    let pipeline = crate::http::pipeline(
        client,
        crate::http::LOCAL_BODY_MAX,
        crate::http::Backoff::never(),
    );
    let mut request = azure_core::http::Request::new(target, azure_core::http::Method::Get);
    let options = azure_core::http::PipelineSendOptions {
        skip_checks: true,
        ..Default::default()
    };
    let context = azure_core::http::Context::new();
    let answer = tokio::time::timeout(
        PROBE_TIMEOUT,
        pipeline.send(&context, &mut request, Some(options)),
    )
    .await;
    match answer {
        Ok(Ok(_)) => Ok(()),
        Err(_) => Err(ImdsProbe::Silent {
            host,
            seconds: PROBE_TIMEOUT.as_secs_f64(),
        }),
        Ok(Err(e)) => Err(ImdsProbe::Failed(Box::new(e))),
    }
}

/// Why a credential failed, in one clause: a transport failure found by type
/// ("cannot connect to ...: connection refused") rather than the wrapping
/// texts of the crates ("authentication failed. non-transport error ...").
fn reason(error: &Error) -> String {
    match crate::http::find::<crate::http::TransportFailure>(error) {
        Some(failure) => format!("cannot reach the identity endpoint: {failure}"),
        None => crate::error::chain(error),
    }
}

#[async_trait::async_trait]
impl TokenCredential for Chain {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let mut reasons = Vec::new();
        for candidate in &self.candidates {
            let (credential, description) = match &candidate.state {
                Ok(ready) => ready,
                Err(why) => {
                    reasons.push(format!("{}: {why}", candidate.name));
                    continue;
                }
            };
            if let Some((client, url)) = &candidate.probe {
                if let Err(why) = probe(client, url).await {
                    reasons.push(format!("{}: {why}", candidate.name));
                    continue;
                }
            }
            match credential.get_token(scopes, None).await {
                Ok(token) => {
                    tracing::info!(credential = %description, "credential chosen");
                    let _ = self.chosen.set(description.clone());
                    return Ok(token);
                }
                Err(e) => {
                    // The crates' own words stay for -v; the reason is kvenv's.
                    tracing::info!(credential = candidate.name, error = %crate::error::chain(&e), "credential failed");
                    reasons.push(format!("{}: {}", candidate.name, reason(&e)));
                }
            }
        }
        let narrowed = self
            .narrowed
            .as_ref()
            .map(|n| format!(" ({n} narrowed the chain)"))
            .unwrap_or_default();
        let message = match reasons.as_slice() {
            [only] => format!("{only}{narrowed}"),
            _ => format!("no credential worked{narrowed}: {}", reasons.join("; ")),
        };
        Err(Error::with_message(ErrorKind::Credential, message))
    }
}
