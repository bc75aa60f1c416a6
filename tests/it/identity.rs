//! Credentials: each on its own, the `auto` chain's order and its failure
//! message, user-assigned selection, clouds. Only loopback fakes: the IMDS
//! probe is pointed at closed or silent ports on 127.0.0.1, Entra at a fake.

use crate::support;

use kvenv_testkit::IdentityKind;
use std::net::TcpListener;
use std::time::{Duration, Instant};
use support::Kit;

/// A kit like a laptop: no managed identity endpoint variables (each test
/// points the IMDS probe at a closed or silent port) and a secret `s`.
fn laptop() -> Kit {
    let kit = Kit::with(IdentityKind::Imds);
    kit.azure.vault.set_secret("s", "laptop-secret-value-1357");
    kit
}

fn service_principal_env(kit: &Kit, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "AZURE_TENANT_ID",
            "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
        ),
        ("AZURE_CLIENT_ID", "app-client-id-1".into()),
        ("AZURE_CLIENT_SECRET", secret.into()),
        ("AZURE_AUTHORITY_HOST", kit.azure.entra.authority()),
    ]
}

#[test]
fn environment_service_principal_with_client_secret() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "sp-secret-value-2468");
    kit.azure
        .entra
        .app("app-client-id-1", "client-secret-ZZ-991");
    let out = kit
        .run()
        .secret("client-secret-ZZ-991")
        .args(["-v"])
        .envs(service_principal_env(&kit, "client-secret-ZZ-991"))
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("S").unwrap(), "sp-secret-value-2468");
    let requests = kit.azure.entra.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.tenant, "72f988bf-86f1-41af-91ab-2d7cd011db47");
    assert_eq!(r.client_id.as_deref(), Some("app-client-id-1"));
    assert_eq!(r.grant_type.as_deref(), Some("client_credentials"));
    assert_eq!(r.scope.as_deref(), Some("https://vault.azure.net/.default"));
    assert!(r.had_secret);
    // The environment came first in the chain: the managed identity was never asked.
    assert!(kit.azure.identity.requests().is_empty());
    assert!(out.stderr.contains("credential chosen"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("service principal app-client-id-1 (environment)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failing_earlier_credential_is_reported_and_the_next_one_used() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "fallback-value-3579");
    kit.azure
        .entra
        .app("app-client-id-1", "the-right-secret-77");
    let out = kit
        .run()
        .secret("wrong-secret-88")
        .args(["-v"])
        .envs(service_principal_env(&kit, "wrong-secret-88"))
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("S").unwrap(), "fallback-value-3579");
    assert!(out.stderr.contains("credential failed"), "{}", out.stderr);
    assert!(out.stderr.contains("AADSTS7000215"), "{}", out.stderr);
    assert_eq!(
        kit.azure.identity.tokens_issued(),
        1,
        "managed identity took over"
    );
}

#[test]
fn explicit_environment_credential_with_a_wrong_secret_fails_clearly() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "sp-fail-value-4680");
    kit.azure
        .entra
        .app("app-client-id-1", "the-right-secret-77");
    let out = kit
        .run()
        .secret("wrong-secret-99")
        .args(["--credential", "environment"])
        .envs(service_principal_env(&kit, "wrong-secret-99"))
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    assert!(
        out.stderr.contains("S: MSINotEnabled: no token for vault"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("AADSTS7000215"), "{}", out.stderr);
    assert!(
        kit.azure.identity.requests().is_empty(),
        "no other credential with --credential environment"
    );
}

#[test]
fn workload_identity_rereads_a_rotated_token_file() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "wi-value-5791");
    let file = kit.azure.dir().join("federated-token");
    for (i, assertion) in ["federated-token-one", "federated-token-two"]
        .iter()
        .enumerate()
    {
        std::fs::write(&file, assertion).unwrap();
        let out = kit
            .run()
            .secret(assertion)
            .without_env("IDENTITY_ENDPOINT")
            .without_env("IDENTITY_HEADER")
            .args(["--credential", "workload-identity"])
            .env("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string())
            .env("AZURE_CLIENT_ID", "wi-client-id")
            .env("AZURE_TENANT_ID", "wi-tenant")
            .env("AZURE_AUTHORITY_HOST", kit.azure.entra.authority())
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(0);
        assert_eq!(out.child("S").unwrap(), "wi-value-5791");
        let requests = kit.azure.entra.requests();
        assert_eq!(requests.len(), i + 1);
        let r = requests.last().unwrap();
        assert_eq!(r.assertion.as_deref(), Some(*assertion));
        assert_eq!(r.tenant, "wi-tenant");
        assert_eq!(r.client_id.as_deref(), Some("wi-client-id"));
        assert!(!r.had_secret);
    }
}

#[test]
fn azure_cli_after_a_quick_imds_probe_on_a_laptop() {
    let kit = laptop();
    kit.cli.az_signed_in();
    for imds in [support::closed_port_url(), silent_port_url()] {
        let started = Instant::now();
        let out = kit
            .run()
            .args(["-v"])
            .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds)
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(0);
        assert_eq!(out.child("S").unwrap(), "laptop-secret-value-1357");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        assert!(
            out.stderr.contains("Azure CLI sign-in (az)"),
            "{}",
            out.stderr
        );
    }
    let calls = kit.cli.calls("az");
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0],
        "account get-access-token -o json --scope https://vault.azure.net/.default"
    );
}

/// A port that accepts connections (the kernel's backlog) but never answers.
fn silent_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::mem::forget(listener); // kept open, never accepted, for the test's lifetime
    format!("http://127.0.0.1:{port}")
}

#[test]
fn azd_when_az_is_signed_out() {
    let kit = laptop();
    kit.cli.az_signed_out();
    kit.cli.azd_signed_in();
    let out = kit
        .run()
        .args(["--tenant-id", "my-tenant"])
        .env(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            support::closed_port_url(),
        )
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("S").unwrap(), "laptop-secret-value-1357");
    assert_eq!(
        kit.cli.calls("azd"),
        ["auth token -o json --no-prompt --scope https://vault.azure.net/.default --tenant-id my-tenant"]
    );
    assert_eq!(kit.cli.calls("az").len(), 1);
}

#[test]
fn when_nothing_works_every_credential_says_why() {
    let kit = laptop();
    kit.cli.azd_signed_out();
    let started = Instant::now();
    let imds = support::closed_port_url();
    let out = kit
        .run()
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds)
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(started.elapsed() < Duration::from_secs(5));
    let line = out.stderr.lines().next().unwrap_or_default().to_string();
    let expected_start = format!(
        "kvenv: S: MSINotEnabled: no token for vault {} from the first working credential of the auto chain: no credential worked: \
environment: AZURE_TENANT_ID not set; \
workload-identity: AZURE_FEDERATED_TOKEN_FILE not set; \
managed-identity: no IDENTITY_ENDPOINT or MSI_ENDPOINT, and the IMDS probe failed: cannot connect to {}: connection refused; \
azure-cli: `az` not found on PATH; \
azd: ",
        kit.azure.vault.host(),
        imds.trim_start_matches("http://")
    );
    assert!(line.starts_with(&expected_start), "{line}");
    assert!(line.contains("not logged in"), "{line}");
    assert!(kit.azure.vault.requests().iter().all(|r| !r.authorized));
}

#[test]
fn explicit_credential_that_is_not_configured() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "unconfigured-value-1");
    let out = kit
        .run()
        .args(["--credential", "azure-cli"])
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr.contains("from Azure CLI")
            || out.stderr.contains("azure-cli: `az` not found on PATH"),
        "{}",
        out.stderr
    );
    assert!(
        kit.azure.identity.requests().is_empty(),
        "managed identity not tried"
    );
}

#[test]
fn cloud_shell_posts_a_form() {
    let kit = Kit::with(IdentityKind::CloudShell);
    kit.azure.vault.set_secret("s", "cloudshell-value-2");
    let out = kit
        .run()
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("S").unwrap(), "cloudshell-value-2");
    let requests = kit.azure.identity.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert!(requests[0].metadata_header);
    assert_eq!(
        requests[0].param("resource"),
        Some("https://vault.azure.net")
    );
}

#[test]
fn clouds_set_the_suffix_and_the_scope() {
    for (cloud, host, resource) in [
        ("china", "myvault.vault.azure.cn", "https://vault.azure.cn"),
        (
            "usgov",
            "myvault.vault.usgovcloudapi.net",
            "https://vault.usgovcloudapi.net",
        ),
        (
            "public",
            "myvault.vault.azure.net",
            "https://vault.azure.net",
        ),
    ] {
        let kit = Kit::new();
        kit.azure.vault.set_secret("s", "cloud-value-3");
        let port = kit.azure.vault.port();
        let out = kit
            .bare()
            .args([
                "run",
                "--cloud",
                cloud,
                "--ca-file",
                &kit.azure.ca_file().display().to_string(),
            ])
            .args(["--resolve", &format!("{host}=127.0.0.1:{port}")])
            .env("S", "@Microsoft.KeyVault(VaultName=myvault;SecretName=s)")
            .probe()
            .go();
        out.assert_code(0);
        assert_eq!(out.child("S").unwrap(), "cloud-value-3");
        let requests = kit.azure.identity.requests();
        assert_eq!(requests.len(), 1, "{cloud}: one token");
        assert_eq!(requests[0].param("resource"), Some(resource), "{cloud}");
    }
}

#[test]
fn a_public_suffix_host_is_not_trusted_in_another_cloud() {
    let kit = Kit::new();
    let out = kit
        .bare()
        .args(["run", "--cloud", "china"])
        .env(
            "S",
            "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/s)",
        )
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.stderr.contains("HostNotAllowed"), "{}", out.stderr);
}

/// Certificate service principals need the `client-certificate` feature (OpenSSL):
/// `cargo test --features client-certificate --test identity`.
#[cfg(feature = "client-certificate")]
#[test]
fn environment_service_principal_with_a_certificate_pem_or_pkcs12() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "cert-sp-value-6060");
    let dir = kit.azure.dir();
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-subj",
        "/CN=kvenv-test",
        "-days",
        "1",
    ]);
    openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        "key.pem",
        "-in",
        "cert.pem",
        "-out",
        "cert.pfx",
        "-passout",
        "pass:pfx-pass-1",
    ]);
    let both = [
        std::fs::read(dir.join("cert.pem")).unwrap(),
        std::fs::read(dir.join("key.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join("both.pem"), both).unwrap();

    for (file, password) in [("both.pem", None), ("cert.pfx", Some("pfx-pass-1"))] {
        let before = kit.azure.entra.requests().len();
        let mut run = kit
            .run()
            .args(["--credential", "environment"])
            .env("AZURE_TENANT_ID", "cert-tenant")
            .env("AZURE_CLIENT_ID", "cert-client-id")
            .env(
                "AZURE_CLIENT_CERTIFICATE_PATH",
                dir.join(file).display().to_string(),
            )
            .env("AZURE_AUTHORITY_HOST", kit.azure.entra.authority())
            .env("S", kit.azure.vault.reference("s"));
        if let Some(p) = password {
            run = run.env("AZURE_CLIENT_CERTIFICATE_PASSWORD", p).secret(p);
        }
        let out = run.probe().go();
        out.assert_code(0);
        assert_eq!(out.child("S").unwrap(), "cert-sp-value-6060", "{file}");
        let requests = kit.azure.entra.requests();
        assert_eq!(requests.len(), before + 1, "{file}");
        let r = requests.last().unwrap();
        assert_eq!(r.client_id.as_deref(), Some("cert-client-id"));
        assert!(!r.had_secret);
        let assertion = r.assertion.as_deref().unwrap_or_default();
        assert_eq!(assertion.matches('.').count(), 2, "a signed JWT: {file}");
    }
}

/// Removes, on drop, the part of the Arc agent's folder the test created.
struct CreatedFolder(Option<std::path::PathBuf>);

impl Drop for CreatedFolder {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

#[test]
fn azure_arc_answers_the_challenge_from_the_agent_folder() {
    use kvenv_testkit::ARC_TOKEN_FOLDER;
    let folder = std::path::Path::new(ARC_TOKEN_FOLDER);
    if folder.exists() {
        eprintln!("skipped: {ARC_TOKEN_FOLDER} exists (a real Arc agent?); not touching it");
        return;
    }
    // The first missing ancestor is what this test creates and removes.
    let mut top = folder.to_path_buf();
    while let Some(parent) = top.parent() {
        if parent.exists() {
            break;
        }
        top = parent.to_path_buf();
    }
    if std::fs::create_dir_all(folder).is_err() {
        eprintln!("skipped: cannot create {ARC_TOKEN_FOLDER} (needs root, as CI has)");
        return;
    }
    let _cleanup = CreatedFolder(Some(top));
    let kit = Kit::with(IdentityKind::Arc);
    kit.azure.vault.set_secret("s", "arc-value-7070");
    let out = kit
        .run()
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("S").unwrap(), "arc-value-7070");
    let requests = kit.azure.identity.requests();
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [401, 200], "challenge, then the answer");
    assert_eq!(requests[1].param("api-version"), Some("2020-06-01"));
    assert!(requests.iter().all(|r| r.metadata_header));
}

#[cfg(not(feature = "client-certificate"))]
#[test]
fn a_certificate_without_the_feature_says_how_to_get_it() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "nocert-value-1");
    let out = kit
        .run()
        .args(["--credential", "environment"])
        .env("AZURE_TENANT_ID", "t")
        .env("AZURE_CLIENT_ID", "c")
        .env("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent.pem")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr
            .contains("built without the client-certificate feature"),
        "{}",
        out.stderr
    );
}

// In a pod without workload identity, `auto` must not borrow the node's
// identity through IMDS: every pod on the node shares it.
#[test]
fn inside_kubernetes_auto_does_not_borrow_the_nodes_identity() {
    let kit = Kit::with(IdentityKind::Imds);
    kit.azure.vault.set_secret("s", "node-identity-value-4411");
    let out = kit
        .run()
        .env("KUBERNETES_SERVICE_HOST", "10.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", "443")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    assert!(
        kit.azure.identity.requests().is_empty(),
        "IMDS was asked: {:?}",
        kit.azure.identity.requests()
    );
    assert!(out.stderr.contains("node's identity"), "{}", out.stderr);
    assert!(out.stderr.contains("workload identity"), "{}", out.stderr);
    let out = kit
        .run()
        .args(["--credential", "managed-identity"])
        .env("KUBERNETES_SERVICE_HOST", "10.0.0.1")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("S").unwrap(), "node-identity-value-4411");
}

#[test]
fn token_gives_the_command_a_token_for_the_named_resource_with_no_reference_at_all() {
    for (kind, name) in [
        (IdentityKind::AppService, "app service"),
        (IdentityKind::Imds, "imds"),
        (IdentityKind::CloudShell, "cloud shell"),
    ] {
        for (resource, audience) in [
            ("oss-rdbms", "https://ossrdbms-aad.database.windows.net"),
            ("sql", "https://database.windows.net"),
            ("redis", "https://redis.azure.com"),
            ("https://myapi.example.com/", "https://myapi.example.com"),
        ] {
            let kit = Kit::with(kind);
            let out = kit
                .run()
                .args(["--token", &format!("PGPASSWORD={resource}")])
                .args(["--allow-token-audience", "https://myapi.example.com"])
                .probe()
                .go();
            out.assert_code(0);
            let token = out.child("PGPASSWORD").expect("the token variable");
            assert!(
                kit.azure.tokens.issued().contains(&token),
                "{name}: not the issued token"
            );
            assert_eq!(
                kit.azure.identity.resources(),
                [audience],
                "{name} {resource}"
            );
            assert_eq!(out.stderr, "", "{name}: a successful run prints nothing");
        }
    }
}

#[test]
fn token_comes_from_a_service_principal_and_the_developer_tools_too() {
    let kit = Kit::new();
    kit.azure.entra.app("app-client-id-1", "client-secret-TK-1");
    let out = kit
        .run()
        .secret("client-secret-TK-1")
        .envs(service_principal_env(&kit, "client-secret-TK-1"))
        .args(["--credential", "environment", "--token", "DB=sql"])
        .probe()
        .go();
    out.assert_code(0);
    assert!(kit
        .azure
        .tokens
        .issued()
        .contains(&out.child("DB").unwrap()));
    let scopes: Vec<_> = kit
        .azure
        .entra
        .requests()
        .iter()
        .filter_map(|r| r.scope.clone())
        .collect();
    assert_eq!(scopes, ["https://database.windows.net/.default"]);

    let kit = laptop();
    kit.cli.az_signed_in();
    let out = kit
        .run()
        .args([
            "--credential",
            "azure-cli",
            "--token",
            "REDIS_PASSWORD=redis",
        ])
        .probe()
        .go();
    out.assert_code(0);
    assert!(kit
        .azure
        .tokens
        .issued()
        .contains(&out.child("REDIS_PASSWORD").unwrap()));
    assert_eq!(
        kit.cli.calls("az"),
        ["account get-access-token -o json --scope https://redis.azure.com/.default"]
    );
}

#[test]
fn token_refuses_control_plane_audiences_before_any_request() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "refused-token-value");
    for uri in [
        "https://management.azure.com/",
        "https://management.core.windows.net/",
        "https://graph.microsoft.com",
        "https://graph.windows.net/",
        "https://management.usgovcloudapi.net",
        "https://vault.azure.net",
    ] {
        let out = kit
            .run()
            .args(["--token", &format!("T={uri}")])
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(125);
        assert!(out.child_env.is_none());
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.starts_with("kvenv: --token T: "),
            "{}",
            out.stderr
        );
    }
    assert!(
        kit.azure.identity.requests().is_empty(),
        "no request at all"
    );
    assert!(kit.azure.vault.requests().is_empty(), "no request at all");
}

// Regression: a resource with white space or a newline passed the audience
// check on its first URI and reached Entra with the second as another scope;
// and any https URI was accepted, App Configuration's and Microsoft 365's
// audiences included.
#[test]
fn token_uris_are_checked_as_sent_and_only_named_ones_are_asked_for() {
    let kit = Kit::new();
    let refused = [
        "https://db.example/ https://management.azure.com",
        "https://db.example/\nhttps://management.azure.com",
        "https://db.example/\thttps://graph.microsoft.com",
        "https://user:pw@db.example",
        "https://db.example/?resource=https://management.azure.com",
        "https://db.example/#https://management.azure.com",
        "https://azconfig.io",
        "https://mystore.azconfig.io",
        "https://appconfig.azure.com",
        "https://myhsm.managedhsm.azure.net",
        "https://outlook.office365.com",
        "https://contoso.sharepoint.com",
        "https://manage.office.com",
        "https://app.vssps.visualstudio.com",
    ];
    // Refused with or without --allow-token-audience; any other URI needs it.
    let cases = refused
        .iter()
        .flat_map(|uri| [(*uri, None), (*uri, Some(*uri))])
        .chain([("https://db.example", None)]);
    for (uri, allow) in cases {
        {
            let mut run = kit.run().args(["--token", &format!("T={uri}")]);
            if let Some(allow) = allow {
                run = run.args(["--allow-token-audience", allow]);
            }
            let out = run.probe().go();
            out.assert_code(125);
            assert!(out.child_env.is_none());
            assert_eq!(out.stderr.lines().count(), 1, "{uri:?}: {}", out.stderr);
            assert!(
                out.stderr.starts_with("kvenv: --"),
                "{uri:?}: {}",
                out.stderr
            );
            assert!(!out.stderr.contains("pw@"), "{}", out.stderr);
        }
    }
    assert!(
        kit.azure.identity.requests().is_empty(),
        "no request at all: {:?}",
        kit.azure.identity.resources()
    );
    // A URI beyond the three names, allowed by name: asked for as parsed.
    let out = kit
        .run()
        .args([
            "--token",
            "T=https://DB.example/",
            "--allow-token-audience",
            "https://db.example",
        ])
        .probe()
        .go();
    out.assert_code(0);
    assert!(out.child("T").is_some_and(|t| !t.is_empty()));
    assert_eq!(
        kit.azure.identity.resources(),
        ["https://db.example"],
        "one request, for the parsed URI alone"
    );
}

#[test]
fn check_shows_a_token_row_with_its_expiry_and_never_the_token() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "check-token-secret");
    let out = kit
        .check()
        .args(["--token", "PGPASSWORD=oss-rdbms", "--output", "json"])
        .env("S", kit.azure.vault.reference("s"))
        .go();
    out.assert_code(0);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["location"] == "PGPASSWORD")
        .unwrap();
    assert_eq!(row["kind"], "Token");
    assert_eq!(row["resource"], "oss-rdbms");
    assert_eq!(row["status"], "Resolved");
    assert!(row["expires_on"].as_str().unwrap().ends_with('Z'), "{row}");
    assert!(
        row["detail"].as_str().unwrap().contains("managed identity"),
        "{row}"
    );
    let out = kit
        .check()
        .args(["--token", "PGPASSWORD=oss-rdbms", "-vv"])
        .go();
    out.assert_code(0);
    assert!(
        out.stdout.contains("PGPASSWORD") && out.stdout.contains("(access token)"),
        "{}",
        out.stdout
    );
    // The leak sweep of every run has checked that no issued token was printed.
    kit.azure.identity.fail_next(403, 1, None);
    let out = kit.check().args(["--token", "PGPASSWORD=oss-rdbms"]).go();
    out.assert_code(1);
    assert!(out.stdout.contains("MSINotEnabled"), "{}", out.stdout);
}

/// `AZURE_TOKEN_CREDENTIALS`, as the Azure SDKs read it, narrows `auto`; a
/// named `--credential` wins over it.
#[test]
fn azure_token_credentials_narrows_auto_as_the_sdks_do() {
    // dev: az and azd only, so no managed-identity probe on a laptop.
    let kit = laptop();
    kit.cli.az_signed_in();
    for dev in ["dev", "DEV", "AzureCliCredential", "azure-cli"] {
        let out = kit
            .run()
            .env("AZURE_TOKEN_CREDENTIALS", dev)
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(0);
        assert_eq!(out.child("S").unwrap(), "laptop-secret-value-1357", "{dev}");
    }
    assert!(
        kit.azure.identity.requests().is_empty(),
        "IMDS was never asked"
    );
    assert_eq!(kit.cli.calls("az").len(), 4);
    // prod: environment, workload identity, managed identity; az never runs.
    let kit = laptop();
    kit.cli.az_signed_in();
    let out = kit
        .run()
        .env("AZURE_TOKEN_CREDENTIALS", "prod")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert!(kit.cli.calls("az").is_empty(), "az ran under prod");
    assert_eq!(kit.azure.identity.tokens_issued(), 1);
    // check says what chose the credential.
    let out = kit
        .check()
        .args(["--output", "json"])
        .env("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
        .env("S", kit.azure.vault.reference("s"))
        .go();
    out.assert_code(0);
    assert_eq!(
        out.stderr,
        "kvenv: credential: managed identity (IMDS, system-assigned), chosen by AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential\n"
    );
    // A named --credential wins.
    let out = kit
        .run()
        .args(["--credential", "managed-identity"])
        .env("AZURE_TOKEN_CREDENTIALS", "dev")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert!(kit.cli.calls("az").is_empty());
    // dev with no developer tool signed in: the line says what narrowed the chain.
    let kit = laptop();
    let out = kit
        .run()
        .env("AZURE_TOKEN_CREDENTIALS", "dev")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr
            .contains("(AZURE_TOKEN_CREDENTIALS=dev narrowed the chain)"),
        "{}",
        out.stderr
    );
    assert!(kit.azure.identity.requests().is_empty());
    // An unknown value: one line, nothing asked.
    let kit = laptop();
    let out = kit
        .run()
        .env("AZURE_TOKEN_CREDENTIALS", "VisualStudioCodeCredential")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "kvenv: AZURE_TOKEN_CREDENTIALS: 'VisualStudioCodeCredential' is not dev, prod"
        ),
        "{}",
        out.stderr
    );
    assert!(kit.azure.identity.requests().is_empty() && kit.azure.vault.requests().is_empty());
}
