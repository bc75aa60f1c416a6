//! Credential selection from a settings struct, without processes or a network.

use super::*;

fn config(kind: CredentialKind, vars: &[(&str, &str)]) -> IdentityConfig {
    IdentityConfig {
        kind,
        user_assigned: None,
        tenant_id: None,
        cloud: Cloud::Public,
        env: vars.iter().copied().collect(),
    }
}

fn plumbing() -> Plumbing {
    let tls = crate::http::tls_config(&[]).unwrap();
    Plumbing {
        local: crate::http::identity_client(&tls).unwrap(),
        remote: crate::http::vault_client(&tls, &[]).unwrap(),
    }
}

/// Each candidate of the chain: its name and what it is, or why not.
fn selection(config: &IdentityConfig) -> Vec<String> {
    let plumbing = plumbing();
    let auto = config.kind == CredentialKind::Auto;
    config
        .kind
        .expand()
        .iter()
        .map(|k| candidate(*k, config, &plumbing, auto).summary())
        .collect()
}

#[test]
fn auto_tries_every_family_in_order_and_says_why_each_does_not_apply() {
    let got = selection(&config(CredentialKind::Auto, &[("PATH", "/nonexistent")]));
    assert_eq!(
        got,
        [
            "environment: not configured: AZURE_TENANT_ID not set",
            "workload-identity: not configured: AZURE_FEDERATED_TOKEN_FILE not set",
            "managed-identity: managed identity (IMDS, system-assigned), probed first",
            "azure-cli: not configured: `az` not found on PATH",
            "azd: not configured: `azd` not found on PATH",
        ]
    );
}

#[test]
fn the_platform_decides_the_managed_identity_flavour() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[
                ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi"),
                ("IDENTITY_HEADER", "h"),
            ],
            "managed identity (App Service / Container Apps, system-assigned)",
        ),
        (
            &[
                ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/arc"),
                ("IMDS_ENDPOINT", "http://127.0.0.1:1"),
            ],
            "managed identity (Azure Arc, system-assigned)",
        ),
        (
            &[("MSI_ENDPOINT", "http://127.0.0.1:1/cs")],
            "managed identity (Cloud Shell)",
        ),
        (&[], "managed identity (IMDS, system-assigned)"),
    ];
    for (vars, expected) in cases {
        let got = selection(&config(CredentialKind::ManagedIdentity, vars));
        assert_eq!(got, [format!("managed-identity: {expected}")], "{vars:?}");
    }
}

#[test]
fn a_service_principal_needs_tenant_client_and_secret() {
    let base = [
        ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
        ("AZURE_CLIENT_ID", "app"),
    ];
    let got = selection(&config(CredentialKind::Environment, &base));
    assert_eq!(got, ["environment: not configured: AZURE_CLIENT_SECRET not set (nor AZURE_CLIENT_CERTIFICATE_PATH)"]);
    let mut with_secret = base.to_vec();
    with_secret.push(("AZURE_CLIENT_SECRET", "s"));
    let got = selection(&config(CredentialKind::Environment, &with_secret));
    assert_eq!(got, ["environment: service principal app (environment)"]);
}

#[test]
fn the_tenant_flag_wins_over_the_variable() {
    let mut c = config(CredentialKind::Auto, &[("AZURE_TENANT_ID", "from-env")]);
    assert_eq!(c.tenant(), Some("from-env"));
    c.tenant_id = Some("from-flag".into());
    assert_eq!(c.tenant(), Some("from-flag"));
    assert_eq!(
        config(CredentialKind::Auto, &[("AZURE_TENANT_ID", " ")]).tenant(),
        None
    );
}

#[test]
fn credential_names_parse_and_print_the_same() {
    for kind in CredentialKind::ALL {
        assert_eq!(kind.name().parse::<CredentialKind>(), Ok(kind));
    }
    assert!("managed"
        .parse::<CredentialKind>()
        .unwrap_err()
        .to_string()
        .contains("managed-identity"));
}

#[test]
fn azure_token_credentials_names_a_family_or_one_credential() {
    let narrowed =
        |v: &str| token_credentials(&[("AZURE_TOKEN_CREDENTIALS", v)].into_iter().collect());
    use CredentialKind::*;
    assert_eq!(narrowed("dev").unwrap().unwrap().0, &[AzureCli, Azd]);
    assert_eq!(
        narrowed(" Prod ").unwrap().unwrap().0,
        &[Environment, WorkloadIdentity, ManagedIdentity]
    );
    assert_eq!(
        narrowed("AzureDeveloperCliCredential").unwrap().unwrap().0,
        &[Azd]
    );
    assert_eq!(
        narrowed("workloadidentitycredential").unwrap().unwrap().0,
        &[WorkloadIdentity]
    );
    assert!(narrowed("").unwrap().is_none());
    assert!(narrowed("AzurePowerShellCredential").is_err());
    assert!(token_credentials(&Snapshot::default()).unwrap().is_none());
}
