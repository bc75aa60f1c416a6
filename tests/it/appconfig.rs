//! App Configuration references end to end, against the fake store: plain
//! values whole and embedded, labels, keys with `/`, `:` and unicode, chained
//! Key Vault references (and their guards), each cloud's audience, look-alike
//! hosts, statuses and hints, `check`, templates, env files and `render`.

use crate::support;

use kvenv_testkit::IdentityKind;
use support::{Kit, Run};

/// `kvenv run` allowed to reach both the fake vault and the fake store.
fn run(kit: &Kit) -> Run<'_> {
    kit.run().args(["--allow-host", &kit.azure.store.host()])
}

#[test]
fn plain_values_whole_and_embedded_with_labels_and_odd_keys() {
    let kit = Kit::new();
    let store = &kit.azure.store;
    store.set("App:Db/Host", None, "db-host-from-config-7");
    store.set("App:Db/Host", Some("prod west"), "db-host-prod-west-8");
    store.set("ключ", None, "unicode-key-value-9");
    let out = run(&kit)
        .env("HOST", store.reference("App:Db/Host", None))
        .env("PROD", store.reference("App:Db/Host", Some("prod west")))
        .env("UNICODE", store.reference("ключ", None))
        .env(
            "CONN",
            format!("Server={};Port=5432;", store.reference("App:Db/Host", None)),
        )
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.stderr, "");
    assert_eq!(out.child("HOST").unwrap(), "db-host-from-config-7");
    assert_eq!(out.child("PROD").unwrap(), "db-host-prod-west-8");
    assert_eq!(out.child("UNICODE").unwrap(), "unicode-key-value-9");
    assert_eq!(
        out.child("CONN").unwrap(),
        "Server=db-host-from-config-7;Port=5432;"
    );
    let requests = store.requests();
    // One request per unique (key, label); the null label is sent as %00.
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(requests
        .iter()
        .all(|r| r.authorized && r.status == 200 && r.api_version.as_deref() == Some("1.0")));
    let no_label = requests
        .iter()
        .find(|r| r.key == "App:Db/Host" && r.label.is_none())
        .unwrap();
    assert_eq!(no_label.raw_label.as_deref(), Some("\0"));
    assert!(requests
        .iter()
        .any(|r| r.label.as_deref() == Some("prod west")));
    // The token was asked for App Configuration's audience, once.
    let resources: Vec<String> = kit
        .azure
        .identity
        .requests()
        .iter()
        .filter_map(|r| r.param("resource").map(str::to_string))
        .collect();
    assert_eq!(resources, ["https://appconfig.azure.com"]);
}

#[test]
fn a_chained_key_vault_reference_resolves_to_the_secret_once() {
    let kit = Kit::new();
    kit.azure
        .vault
        .set_secret("db-password", "chained-secret-value-5");
    let uri = kit.azure.vault.secret_uri("db-password");
    kit.azure
        .store
        .set_key_vault_reference("App:Db/Password", None, &uri);
    let out = run(&kit)
        .env(
            "VIA_CONFIG",
            kit.azure.store.reference("App:Db/Password", None),
        )
        .env("DIRECT", kit.azure.vault.reference("db-password"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("VIA_CONFIG").unwrap(), "chained-secret-value-5");
    assert_eq!(out.child("DIRECT").unwrap(), "chained-secret-value-5");
    // The direct and the chained reference share one fetch.
    assert_eq!(kit.azure.vault.gets_of("db-password"), 1);
    // One token per audience.
    let mut resources: Vec<String> = kit
        .azure
        .identity
        .requests()
        .iter()
        .filter_map(|r| r.param("resource").map(str::to_string))
        .collect();
    resources.sort();
    assert_eq!(
        resources,
        ["https://appconfig.azure.com", "https://vault.azure.net"]
    );
}

#[test]
fn a_chained_reference_outside_the_allowed_hosts_is_refused_naming_key_and_vault() {
    let kit = Kit::new();
    kit.azure.store.set_key_vault_reference(
        "App:Secret",
        None,
        "https://evil.example/secrets/stolen",
    );
    kit.azure.store.set_key_vault_reference(
        "App:Broken",
        None,
        "http://v01.vault.azure.net/secrets/x",
    );
    let out = run(&kit)
        .env("EVIL", kit.azure.store.reference("App:Secret", None))
        .env("BROKEN", kit.azure.store.reference("App:Broken", None))
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("kvenv: EVIL: HostNotAllowed: key 'App:Secret' (no label) in store")
            && out.stderr.contains("secret 'stolen' in vault evil.example"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("kvenv: BROKEN: InvalidSyntax: key 'App:Broken' (no label)")
            && out.stderr.contains("https://"),
        "{}",
        out.stderr
    );
    assert!(kit.azure.vault.requests().is_empty());
}

#[test]
fn statuses_and_hints_name_the_role_to_grant() {
    let kit = Kit::new();
    let store = &kit.azure.store;
    store.set("denied", None, "denied-config-value-1");
    store.deny("denied");
    kit.azure
        .vault
        .set_secret("locked", "locked-secret-value-2");
    kit.azure.vault.deny("locked");
    store.set_key_vault_reference(
        "chained-locked",
        None,
        &kit.azure.vault.secret_uri("locked"),
    );
    let out = run(&kit)
        .env("MISSING", store.reference("no-such-key", Some("prod")))
        .env("DENIED", store.reference("denied", None))
        .env("CHAINED", store.reference("chained-locked", None))
        .probe()
        .go();
    out.assert_code(125);
    let line = |var: &str| {
        out.stderr
            .lines()
            .find(|l| l.starts_with(&format!("kvenv: {var}: ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("MISSING").contains("SecretNotFound: key 'no-such-key' (label 'prod')")
            && line("MISSING").contains("check the Key and the Label"),
        "{}",
        out.stderr
    );
    assert!(
        line("DENIED").contains("AccessToKeyVaultDenied")
            && line("DENIED").contains("\"App Configuration Data Reader\" role on the store"),
        "{}",
        out.stderr
    );
    assert!(
        line("CHAINED").contains("AccessToKeyVaultDenied: key 'chained-locked'")
            && line("CHAINED").contains("\"Key Vault Secrets User\""),
        "{}",
        out.stderr
    );
}

#[test]
fn throttling_is_retried_after_retry_after_ms() {
    let kit = Kit::new();
    kit.azure.store.set("busy", None, "throttled-value-3");
    kit.azure.store.fail_next("busy", 429, 2, Some("300"));
    let started = std::time::Instant::now();
    let out = run(&kit)
        .env("BUSY", kit.azure.store.reference("busy", None))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("BUSY").unwrap(), "throttled-value-3");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    let statuses: Vec<u16> = kit
        .azure
        .store
        .requests()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 429, 200]);
}

#[test]
fn each_cloud_asks_for_its_own_audience_and_look_alikes_are_refused() {
    for (cloud, host, audience) in [
        (
            "public",
            "mystore.azconfig.io",
            "https://appconfig.azure.com",
        ),
        (
            "usgov",
            "mystore.azconfig.azure.us",
            "https://appconfig.azure.us",
        ),
        (
            "china",
            "mystore.azconfig.azure.cn",
            "https://appconfig.azure.cn",
        ),
    ] {
        let kit = Kit::new();
        kit.azure.store.set("k", None, "cloud-value-4");
        let port = kit.azure.store.port();
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
            .env(
                "K",
                format!("@Microsoft.AppConfiguration(Endpoint=https://{host}:{port}; Key=k)"),
            )
            .probe()
            .go();
        out.assert_code(0);
        assert_eq!(out.child("K").unwrap(), "cloud-value-4");
        let resources: Vec<String> = kit
            .azure
            .identity
            .requests()
            .iter()
            .filter_map(|r| r.param("resource").map(str::to_string))
            .collect();
        assert_eq!(resources, [audience], "{cloud}");
    }
    let kit = Kit::new();
    for host in [
        "mystore.azconfig.io.evil.example",
        "mystore.azconfig.azure.us",
        "azconfig.io",
        "127.0.0.2",
    ] {
        let out = kit
            .bare()
            .arg("run")
            .env(
                "K",
                format!("@Microsoft.AppConfiguration(Endpoint=https://{host}; Key=k)"),
            )
            .probe()
            .go();
        out.assert_code(125);
        assert!(
            out.stderr
                .contains("K: HostNotAllowed: App Configuration store host"),
            "{host}: {}",
            out.stderr
        );
    }
    assert!(kit.azure.identity.requests().is_empty());
}

#[test]
fn a_store_asking_for_another_audience_gets_no_token_for_it() {
    let kit = Kit::with(IdentityKind::Imds);
    kit.azure.store.set("k", None, "audience-store-value");
    kit.azure
        .store
        .challenge_for("https://management.azure.com");
    let out = run(&kit)
        .env("K", kit.azure.store.reference("k", None))
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr.contains("K: AccessToKeyVaultDenied: refused:")
            && out.stderr.contains("management.azure.com"),
        "{}",
        out.stderr
    );
    let resources: Vec<Option<String>> = kit
        .azure
        .identity
        .requests()
        .iter()
        .map(|r| r.param("resource").map(str::to_string))
        .collect();
    assert!(
        resources
            .iter()
            .flatten()
            .all(|r| r == "https://appconfig.azure.com"),
        "{resources:?}"
    );
}

#[test]
fn malformed_references_are_invalid_syntax_naming_the_variable() {
    let kit = Kit::new();
    let out = run(&kit)
        .env(
            "BAD",
            "@Microsoft.AppConfiguration(Endpoint=http://s.azconfig.io; Key=k)",
        )
        .env(
            "STAR",
            "@Microsoft.AppConfiguration(Endpoint=https://s.azconfig.io; Key=k; Label=*)",
        )
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr
            .contains("kvenv: BAD: InvalidSyntax: Endpoint must use https://"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("kvenv: STAR: InvalidSyntax: Label must name one label"),
        "{}",
        out.stderr
    );
    assert!(kit.azure.store.requests().is_empty());
}

#[test]
fn templates_env_files_and_render_take_them_too() {
    let kit = Kit::new();
    kit.azure.store.set("App:Port", None, "port-value-6543");
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("app.conf");
    std::fs::write(
        &template,
        format!("port = {}\n", kit.azure.store.reference("App:Port", None)),
    )
    .unwrap();
    let env_file = dir.path().join("app.env");
    std::fs::write(
        &env_file,
        format!("PORT='{}'\n", kit.azure.store.reference("App:Port", None)),
    )
    .unwrap();
    let out = run(&kit)
        .args(["--template", &format!("{}=CONF", template.display())])
        .args(["--env-file", &env_file.display().to_string()])
        .command(["sh", "-c", "cat \"$CONF\"; echo \"PORT=$PORT\""])
        .stdout_is_output()
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "port = port-value-6543\nPORT=port-value-6543\n");
    let out = kit
        .run_render()
        .args(["--allow-host", &kit.azure.store.host()])
        .arg(template.display().to_string())
        .stdout_is_output()
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "port = port-value-6543\n");
}

#[test]
fn check_shows_key_values_and_chains() {
    let kit = Kit::new();
    let version = kit
        .azure
        .vault
        .set_secret("db-password", "check-chain-value");
    kit.azure
        .store
        .set("App:Plain", Some("prod"), "check-plain-value");
    kit.azure.store.set_key_vault_reference(
        "App:Chained",
        None,
        &kit.azure.vault.secret_uri("db-password"),
    );
    let checked = |format: &str| {
        kit.check()
            .args(["--allow-host", &kit.azure.store.host(), "--output", format])
            .env(
                "A_PLAIN",
                kit.azure.store.reference("App:Plain", Some("prod")),
            )
            .env("B_CHAINED", kit.azure.store.reference("App:Chained", None))
            .env("C_MISSING", kit.azure.store.reference("App:Missing", None))
            .go()
    };
    let out = checked("table");
    out.assert_code(1);
    let text = out
        .stdout
        .replace(&kit.azure.store.host(), "127.0.0.1:STORE")
        .replace(&kit.azure.vault.host(), "127.0.0.1:VAULT");
    // The secret's version is random: the same width, fixed text.
    let text = text.replace(&version, &format!("{:<32}", "VERSION"));
    insta::assert_snapshot!("appconfig_check_table", text);
    let json: serde_json::Value = serde_json::from_str(&checked("json").stdout).unwrap();
    let rows = json.as_array().unwrap();
    let chained = rows.iter().find(|r| r["location"] == "B_CHAINED").unwrap();
    assert_eq!(chained["kind"], "AppConfiguration");
    assert_eq!(chained["key"], "App:Chained");
    assert_eq!(chained["label"], serde_json::Value::Null);
    assert_eq!(chained["secret"], "db-password");
    assert_eq!(chained["status"], "Resolved");
    let plain = rows.iter().find(|r| r["location"] == "A_PLAIN").unwrap();
    assert_eq!(
        (plain["label"].as_str(), plain["vault"].is_null()),
        (Some("prod"), true)
    );
    let missing = rows.iter().find(|r| r["location"] == "C_MISSING").unwrap();
    assert_eq!(missing["status"], "SecretNotFound");
}

// Regression: keys and labels with direction overrides, zero-width characters,
// DEL or NEL reached `check --output json` raw (valid JSON, but a Trojan-Source
// hazard wherever it is shown).
#[test]
fn check_json_escapes_every_non_printing_character() {
    let kit = Kit::new();
    let key = "App:\u{202e}gnirts\u{200b}\u{7f}\u{85}Key";
    let label = "pr\u{2066}od";
    kit.azure.store.set(key, Some(label), "escaped-json-value");
    let out = kit
        .check()
        .args(["--allow-host", &kit.azure.store.host(), "--output", "json"])
        .env("ODD", kit.azure.store.reference(key, Some(label)))
        .go();
    out.assert_code(0);
    for raw in ['\u{202e}', '\u{200b}', '\u{7f}', '\u{85}', '\u{2066}'] {
        assert!(!out.stdout.contains(raw), "{raw:?} raw in:\n{}", out.stdout);
    }
    assert!(
        out.stdout
            .contains(r"App:\u202egnirts\u200b\u007f\u0085Key"),
        "{}",
        out.stdout
    );
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json[0]["key"], key, "the text reads back the same");
    assert_eq!(json[0]["label"], label);
}
