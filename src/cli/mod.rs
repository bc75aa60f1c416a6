//! Command-line interface: clap definitions, every option also settable by a
//! `KVENV_*` variable, turned into validated [`Settings`] before any work.

use crate::cloud::Cloud;
use crate::identity::{CredentialKind, IdentityConfig, Snapshot, UserAssigned};
use crate::resolve::Settings;
use crate::vault::AllowedHost;
use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "kvenv",
    version,
    about = "Resolve Azure Key Vault references in the environment, then exec the command",
    long_about = "Resolve Azure Key Vault references in the environment with the identity the process already has \
(managed identity in Azure, developer sign-in on a laptop), then replace kvenv with the command.\n\n\
A reference is App Service's syntax, whole or inside a larger value:\n  \
DB_PASSWORD=@Microsoft.KeyVault(VaultName=myvault;SecretName=db-password)\n  \
DB_PASSWORD=@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/db-password/)"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Resolve every reference in the environment, then exec COMMAND with it (same PID).
    Run(RunArgs),
    /// Resolve every reference and print one row per reference (never a value).
    /// Exit 0 when all resolve, 1 otherwise: a HEALTHCHECK or a CI gate.
    Check(CheckArgs),
    /// Print TEMPLATE with its references resolved, or write it to FILE (mode 0600, atomically).
    Render(RenderArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): kvenv(1), or with COMMAND that command's
    /// page with every option (kvenv-run(1), ...), as git has one per command.
    Man {
        /// run, check, render, export, inject, install or completions.
        command: Option<String>,
    },
    /// Resolve like `run`, then print the variables whose values held a
    /// reference (or the VARs named, or with --all the whole environment the
    /// command would get) in a format another tool reads back exactly.
    Export(ExportArgs),
    /// Add kvenv to Kubernetes manifests: each container whose env holds a
    /// reference (or that --container names) runs `/kvenv/kvenv run -- ...`
    /// from a volume that holds kvenv. Writes the manifests to stdout.
    Inject(InjectArgs),
    /// Copy this kvenv binary to DIR/kvenv (mode 0755, atomically; a link
    /// there is replaced, not followed). Resolves nothing: for an init
    /// container that places kvenv in a shared volume.
    Install {
        /// An existing directory.
        #[arg(value_name = "DIR")]
        dir: std::path::PathBuf,
    },
}

/// `--token` and the URIs it may ask for (run, check, export).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct TokenArgs {
    /// Set VAR to an Entra access token for RESOURCE (`oss-rdbms`: PostgreSQL and
    /// MySQL flexible server; `sql`: Azure SQL; `redis`: Azure Cache for Redis;
    /// or an https:// resource URI named by --allow-token-audience), from the
    /// same identity: a password for databases that take one. Repeatable. Never printed.
    // Checked by `token::targets`, so that a bad value is one line that
    // shows no control character (clap would echo the value as given).
    #[arg(
        long = "token",
        env = "KVENV_TOKEN",
        value_delimiter = ',',
        value_name = "VAR=RESOURCE"
    )]
    pub tokens: Vec<String>,

    /// Let --token ask for this https:// resource URI besides oss-rdbms, sql
    /// and redis. Control-plane, secret-store and Microsoft 365 audiences stay
    /// refused. Repeatable.
    #[arg(
        long = "allow-token-audience",
        env = "KVENV_ALLOW_TOKEN_AUDIENCE",
        value_delimiter = ',',
        value_name = "URI"
    )]
    pub allowed: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub common: Common,

    #[command(flatten)]
    pub shapes: ShapeArgs,

    #[command(flatten)]
    pub token: TokenArgs,

    /// What reads the output: dotenv (kvenv --env-file, dotenvy), shell (`.` or
    /// eval), json, yaml (1.2), docker (`docker run --env-file`).
    #[arg(long, value_enum, env = "KVENV_FORMAT", default_value = "dotenv")]
    pub format: crate::export::Format,

    /// The whole environment the command would get, not only what held references.
    #[arg(long, env = "KVENV_ALL", conflicts_with = "vars")]
    pub all: bool,

    /// Write to FILE (mode 0600, atomically, a regular file or none) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Only these variables, in this order.
    #[arg(value_name = "VAR")]
    pub vars: Vec<String>,
}

/// How secrets are shaped for the app: JSON members, optional references.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ShapeArgs {
    /// VAR's value is one reference to a JSON secret; VAR becomes the member at
    /// the RFC 6901 POINTER (`/user`, `/a/b`, `/0`; empty: the whole document):
    /// a string as its text, anything else as compact JSON. Repeatable.
    #[arg(long = "json-field", env = "KVENV_JSON_FIELD", value_delimiter = ',', value_name = "VAR=POINTER", value_parser = crate::shape::parse_field)]
    pub json_field: Vec<(String, String)>,

    /// VAR's value is one reference to a JSON object; each top-level member K
    /// becomes the variable PREFIX+K (default prefix `VAR_`) and VAR is removed.
    /// Never overwrites a variable. Repeatable.
    #[arg(long = "json-expand", env = "KVENV_JSON_EXPAND", value_delimiter = ',', value_name = "VAR[=PREFIX]", value_parser = crate::shape::parse_expand)]
    pub json_expand: Vec<(String, String)>,

    /// When VAR's secret (or key-value) is not found, VAR gets DEFAULT or, with
    /// no `=`, is left out, with one warning; any other failure still fails. Repeatable.
    #[arg(long = "optional", env = "KVENV_OPTIONAL", value_delimiter = ',', value_name = "VAR[=DEFAULT]", value_parser = crate::shape::parse_optional)]
    pub optional: Vec<(String, Option<String>)>,

    /// VAR's value is one reference to a Key Vault certificate's secret (PEM or
    /// base64 PKCS#12); VAR becomes the path of an in-memory file holding PART:
    /// key (PKCS#8), cert (the leaf), fullchain (leaf first), bundle (key then
    /// fullchain) or pfx. Parts of one certificate cost one fetch. Repeatable.
    #[arg(long = "cert", env = "KVENV_CERT", value_delimiter = ',', value_name = "VAR=PART", value_parser = crate::shape::parse_cert)]
    pub cert: Vec<(String, crate::cert::Part)>,

    /// VAR's value is one reference; VAR becomes the path of an in-memory file
    /// holding the secret, decoded first from base64, base64url or hex when
    /// named (keystores, keytabs, licence files). Repeatable.
    #[arg(long = "file", env = "KVENV_FILE", value_delimiter = ',', value_name = "VAR[=ENCODING]", value_parser = crate::shape::parse_file)]
    pub file: Vec<(String, crate::decode::Decoding)>,

    /// A secret past its expiry (exp) or before its activation (nbf), or a
    /// --cert leaf outside its validity, fails instead of being warned about.
    #[arg(long = "fail-expired", env = "KVENV_FAIL_EXPIRED")]
    pub fail_expired: bool,
}

#[derive(Args, Debug)]
pub(crate) struct InjectArgs {
    /// The manifests: YAML (several documents) or JSON; `-` is standard input.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        default_value = "-"
    )]
    pub filename: std::path::PathBuf,

    /// kvenv's image (one that holds only /kvenv), as your cluster pulls it:
    /// needed as soon as a pod changes.
    #[arg(long, value_name = "REF", env = "KVENV_IMAGE")]
    pub image: Option<String>,

    /// How kvenv reaches the pod: an init container that copies it into an
    /// in-memory volume (any cluster), or an image volume (ImageVolume, beta since Kubernetes 1.33).
    #[arg(
        long,
        value_enum,
        env = "KVENV_DELIVERY",
        default_value = "init-container"
    )]
    pub delivery: crate::inject::Delivery,

    /// Wrap this container (or init container) whatever its env holds
    /// (repeatable); without it, those whose env values hold a reference.
    #[arg(
        long,
        value_name = "NAME",
        env = "KVENV_CONTAINER",
        value_delimiter = ','
    )]
    pub container: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Output {
    #[default]
    Table,
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub common: Common,

    /// Also check the references in TEMPLATE (repeatable; `TEMPLATE=VAR` as for run is accepted).
    #[arg(long, value_name = "TEMPLATE", value_parser = parse_check_template)]
    pub template: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,

    #[command(flatten)]
    pub shapes: ShapeArgs,

    #[command(flatten)]
    pub token: TokenArgs,
}

fn parse_check_template(text: &str) -> Result<PathBuf, String> {
    match parse_template_arg(text) {
        Ok(t) => Ok(t.path),
        Err(_) if !text.is_empty() => Ok(PathBuf::from(text)),
        Err(e) => Err(e),
    }
}

#[derive(Args, Debug)]
pub(crate) struct RenderArgs {
    #[command(flatten)]
    pub common: Common,

    /// Leave a reference that fails as its literal text instead of failing.
    #[arg(long, env = "KVENV_KEEP_UNRESOLVED")]
    pub keep_unresolved: bool,

    /// Write to FILE (created with mode 0600 via a temporary file and a rename) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// A text file with references in it (at most 1 MiB).
    #[arg(value_name = "TEMPLATE")]
    pub template: PathBuf,
}

pub(crate) use crate::child::TemplateArg;

fn parse_template_arg(text: &str) -> Result<TemplateArg, String> {
    let (path, var) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("'{}' is not TEMPLATE=VAR", crate::error::printable(text)))?;
    let valid_var = !var.is_empty()
        && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !var.as_bytes()[0].is_ascii_digit();
    if path.is_empty() || !valid_var {
        return Err(format!(
            "'{}' is not TEMPLATE=VAR (VAR is a variable name: letters, digits, '_')",
            crate::error::printable(text)
        ));
    }
    Ok(TemplateArg {
        path: PathBuf::from(path),
        var: var.to_string(),
    })
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub common: Common,

    /// Leave a reference that fails as its literal text (as App Service does) instead of failing.
    #[arg(long, env = "KVENV_KEEP_UNRESOLVED")]
    pub keep_unresolved: bool,

    #[command(flatten)]
    pub shapes: ShapeArgs,

    #[command(flatten)]
    pub token: TokenArgs,

    /// Render TEMPLATE into an anonymous in-memory file (memfd, mode 0600, sealed)
    /// inherited by the command, and set VAR=/dev/fd/N. Repeatable.
    #[arg(long, env = "KVENV_TEMPLATE", value_delimiter = ',', value_name = "TEMPLATE=VAR", value_parser = parse_template_arg)]
    pub template: Vec<TemplateArg>,

    /// Stay as the command's parent and follow rotation: re-fetch references
    /// without a version every --refresh-interval and act on a new version.
    #[arg(long, env = "KVENV_WATCH")]
    pub watch: bool,

    /// With --watch: how often to re-fetch (1500ms, 30s, 10m, 1h, or seconds; ±20% jitter).
    #[arg(long, env = "KVENV_REFRESH_INTERVAL", default_value = "10m", value_name = "DURATION", value_parser = crate::watch::options::parse_interval)]
    pub refresh_interval: std::time::Duration,

    /// With --watch: on a new version, `restart` the command, or `signal:NAME` (templates
    /// re-rendered in place, then NAME sent; a changed variable still restarts).
    #[arg(long, env = "KVENV_ON_CHANGE", default_value = "restart", value_name = "restart|signal:NAME", value_parser = crate::watch::options::parse_on_change)]
    pub on_change: crate::watch::options::OnChange,

    /// With --watch: the signal that asks the command to stop before a restart.
    #[arg(long, env = "KVENV_STOP_SIGNAL", default_value = "TERM", value_name = "NAME", value_parser = crate::watch::options::parse_signal)]
    pub stop_signal: crate::platform::Signal,

    /// Stay as the command's parent and replace every resolved value, and its
    /// base64, base64url, percent-encoded and JSON-escaped forms, with *** in
    /// its stdout and stderr (a pseudo-terminal when kvenv's output is a
    /// terminal). `--mask=github` also prints ::add-mask:: lines first when
    /// GITHUB_ACTIONS is true: the one time kvenv writes values to its output.
    #[arg(long, env = "KVENV_MASK", value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "on", value_name = "github")]
    pub mask: Option<crate::mask::MaskMode>,

    /// With --watch: how long to wait after the stop signal before SIGKILL.
    #[arg(long, env = "KVENV_STOP_TIMEOUT", default_value = "10s", value_name = "DURATION", value_parser = crate::watch::options::parse_duration)]
    pub stop_timeout: std::time::Duration,

    /// The command to run, searched in PATH, and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// Lists may hold empty entries (`KVENV_ALLOW_HOST=a,,b`, a trailing comma):
/// they are skipped, not errors.
fn blank_or<T, E: std::fmt::Display>(
    parse: impl Fn(&str) -> Result<T, E> + Clone + Send + Sync + 'static,
) -> impl Fn(&str) -> Result<Option<T>, String> + Clone + Send + Sync + 'static {
    move |text| match text.trim() {
        "" => Ok(None),
        text => parse(text).map(Some).map_err(|e| e.to_string()),
    }
}

/// `--resolve HOST=IP:PORT`
fn parse_resolve(text: &str) -> Result<(String, std::net::SocketAddr), String> {
    let bad = || format!("'{}' is not HOST=IP:PORT", crate::error::printable(text));
    let (host, addr) = text.split_once('=').ok_or_else(bad)?;
    let addr: std::net::SocketAddr = addr.trim().parse().map_err(|_| bad())?;
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host.contains([':', '/', '@']) {
        return Err(bad());
    }
    Ok((host, addr))
}

/// `--timeout SECONDS`: above 0, at most a day.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err("must be a number of seconds above 0 (at most 86400)".into()),
    }
}

/// A parser that lists `names` in help and completions.
fn one_of<const N: usize>(names: [&'static str; N]) -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(names)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Options every resolving command shares.
#[derive(Args, Debug)]
pub(crate) struct Common {
    /// A dotenv file whose variables join the environment (repeatable); variables
    /// already in the environment win. Its values may hold references.
    #[arg(
        long,
        env = "KVENV_ENV_FILE",
        value_delimiter = ',',
        value_name = "FILE"
    )]
    pub env_file: Vec<PathBuf>,

    /// Which credential to use.
    #[arg(long, env = "KVENV_CREDENTIAL", default_value = "auto", value_parser = one_of(CredentialKind::ALL.map(CredentialKind::name)).try_map(|s| s.parse::<CredentialKind>()))]
    pub credential: CredentialKind,

    /// Client id of a user-assigned managed identity [default: AZURE_CLIENT_ID].
    #[arg(long, env = "KVENV_CLIENT_ID", group = "user_assigned")]
    pub client_id: Option<String>,

    /// Object (principal) id of a user-assigned managed identity.
    #[arg(long, env = "KVENV_OBJECT_ID", group = "user_assigned")]
    pub object_id: Option<String>,

    /// Azure resource id of a user-assigned managed identity.
    #[arg(long, env = "KVENV_RESOURCE_ID", group = "user_assigned")]
    pub resource_id: Option<String>,

    /// Entra ID tenant to authenticate in [default: AZURE_TENANT_ID].
    #[arg(long, env = "KVENV_TENANT_ID")]
    pub tenant_id: Option<String>,

    /// Azure cloud: Key Vault DNS suffix, token scope and Entra authority.
    #[arg(long, env = "KVENV_CLOUD", default_value = "public", value_parser = one_of(Cloud::ALL.map(Cloud::name)).try_map(|s| s.parse::<Cloud>()))]
    pub cloud: Cloud,

    /// A vault host outside the cloud's Key Vault suffix that may receive the token
    /// (repeatable; comma-separated in KVENV_ALLOW_HOST). Without a port, any port.
    #[arg(
        long,
        env = "KVENV_ALLOW_HOST",
        value_delimiter = ',',
        value_name = "HOST[:PORT]",
        value_parser = blank_or(AllowedHost::parse)
    )]
    pub allow_host: Vec<Option<AllowedHost>>,

    /// Connect to IP:PORT for HOST (a vault or an App Configuration store) instead of asking DNS (private endpoints without
    /// private DNS, tests). The certificate must still be valid for HOST. Repeatable.
    #[arg(
        long,
        env = "KVENV_RESOLVE",
        value_delimiter = ',',
        value_name = "HOST=IP:PORT",
        value_parser = blank_or(parse_resolve)
    )]
    pub resolve: Vec<Option<(String, std::net::SocketAddr)>>,

    /// Extra trusted root certificates (PEM), added to the bundled Mozilla roots. SSL_CERT_FILE also works.
    #[arg(long, env = "KVENV_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Seconds the whole resolution may take.
    #[arg(
        long,
        env = "KVENV_TIMEOUT",
        default_value = "30",
        value_name = "SECONDS",
        value_parser = parse_timeout
    )]
    pub timeout: Duration,

    /// Requests in flight at once per vault or store [default: 100 over HTTP/2, on one
    /// connection; 16 over HTTP/1.1, one connection each].
    #[arg(
        long,
        env = "KVENV_CONCURRENCY",
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=1024).map(usize::from)
    )]
    pub concurrency: Option<usize>,

    /// More logging on stderr: -v what was resolved and how, -vv HTTP detail. Never values or tokens.
    #[arg(short, long, action = clap::ArgAction::Count, env = "KVENV_VERBOSE")]
    pub verbose: u8,

    /// Only fatal errors on stderr.
    #[arg(short, long, env = "KVENV_QUIET", conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log line format.
    #[arg(long, env = "KVENV_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl Common {
    /// Validates the options into [`Settings`]; every problem names its flag.
    /// `env` is the environment's snapshot, taken after the env files. The
    /// flags themselves were checked as they were parsed.
    pub(crate) fn settings(&self, env: Snapshot) -> Settings {
        let mut ca_files = Vec::new();
        if let Some(path) = env.get("SSL_CERT_FILE") {
            ca_files.push(("SSL_CERT_FILE", PathBuf::from(path)));
        }
        if let Some(path) = &self.ca_file {
            ca_files.push(("--ca-file", path.clone()));
        }
        let non_empty = |v: &Option<String>| {
            v.as_ref()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let user_assigned = non_empty(&self.client_id)
            .map(UserAssigned::ClientId)
            .or_else(|| non_empty(&self.object_id).map(UserAssigned::ObjectId))
            .or_else(|| non_empty(&self.resource_id).map(UserAssigned::ResourceId))
            // As DefaultAzureCredential does: AZURE_CLIENT_ID names the user-assigned identity.
            .or_else(|| {
                env.get("AZURE_CLIENT_ID")
                    .map(|id| UserAssigned::ClientId(id.trim().to_string()))
            });
        let tenant_id = non_empty(&self.tenant_id);
        Settings {
            cloud: self.cloud,
            allowed: self.allow_host.iter().flatten().cloned().collect(),
            resolve: self.resolve.iter().flatten().cloned().collect(),
            ca_files,
            identity: IdentityConfig {
                kind: self.credential,
                user_assigned,
                tenant_id,
                cloud: self.cloud,
                env,
            },
            timeout: self.timeout,
            concurrency: self.concurrency.unwrap_or(crate::http::HTTP2_CONCURRENCY),
            http1_concurrency: self.concurrency.unwrap_or(crate::http::HTTP1_CONCURRENCY),
        }
    }
}

#[cfg(test)]
mod tests;
