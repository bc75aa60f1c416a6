//! Unit tests for `reference`.

use super::*;

fn p(body: &str) -> Result<SecretRef, RefError> {
    parse(body, Cloud::Public)
}

fn r(host: &str, port: Option<u16>, name: &str, version: Option<&str>) -> SecretRef {
    SecretRef {
        vault: HostAddr {
            host: host.into(),
            port,
        },
        name: name.into(),
        version: version.map(Into::into),
    }
}

// The four examples from the App Service documentation.
#[test]
fn app_service_documentation_examples() {
    assert_eq!(
        p("SecretUri=https://myvault.vault.azure.net/secrets/mysecret/"),
        Ok(r("myvault.vault.azure.net", None, "mysecret", None))
    );
    assert_eq!(
        p("SecretUri=https://myvault.vault.azure.net/secrets/mysecret/ec96f02080254f109c51a1f14cdb1931"),
        Ok(r("myvault.vault.azure.net", None, "mysecret", Some("ec96f02080254f109c51a1f14cdb1931")))
    );
    assert_eq!(
        p("VaultName=myvault;SecretName=mysecret"),
        Ok(r("myvault.vault.azure.net", None, "mysecret", None))
    );
    assert_eq!(
        p("VaultName=myvault;SecretName=mysecret;SecretVersion=ec96f02080254f109c51a1f14cdb1931"),
        Ok(r(
            "myvault.vault.azure.net",
            None,
            "mysecret",
            Some("ec96f02080254f109c51a1f14cdb1931")
        ))
    );
}

#[test]
fn names_are_case_insensitive_and_spaces_ignored() {
    assert_eq!(
        p(" vaultname = MyVault ; SECRETNAME= db-password ;"),
        Ok(r("myvault.vault.azure.net", None, "db-password", None))
    );
    assert_eq!(
        p("secreturi=https://MyVault.Vault.Azure.Net/secrets/x"),
        Ok(r("myvault.vault.azure.net", None, "x", None))
    );
}

#[test]
fn clouds_pick_the_suffix() {
    assert_eq!(
        parse("VaultName=v01;SecretName=s", Cloud::China)
            .unwrap()
            .vault
            .host,
        "v01.vault.azure.cn"
    );
    assert_eq!(
        parse("VaultName=v01;SecretName=s", Cloud::UsGov)
            .unwrap()
            .vault
            .host,
        "v01.vault.usgovcloudapi.net"
    );
}

#[test]
fn ports_and_ip_literals_are_kept() {
    assert_eq!(
        p("SecretUri=https://127.0.0.1:8443/secrets/a/"),
        Ok(r("127.0.0.1", Some(8443), "a", None))
    );
    assert_eq!(
        p("SecretUri=https://v.vault.azure.net:443/secrets/a"),
        Ok(r("v.vault.azure.net", None, "a", None))
    );
}

#[test]
fn malformed_references_say_what_is_wrong() {
    let cases = [
        ("", RefError::Incomplete),
        ("SecretName=x", RefError::NoVaultName),
        ("VaultName=myvault", RefError::NoSecretName),
        ("VaultName=myvault;;SecretName=x", RefError::EmptyParameter),
        (
            "VaultName=myvault;SecretName",
            RefError::NoEquals("'SecretName'".into()),
        ),
        (
            "VaultName=myvault;SecretName=x;Foo=1",
            RefError::UnknownParameter("'Foo'".into()),
        ),
        (
            "VaultName=a1b;vaultname=a1c;SecretName=x",
            RefError::Duplicate("VaultName"),
        ),
        (
            "VaultName=myvault;SecretName=",
            RefError::EmptyValue("SecretName"),
        ),
        (
            "SecretUri=https://v.vault.azure.net/secrets/x;SecretName=y",
            RefError::UriAndName,
        ),
        (
            "SecretUri=http://v.vault.azure.net/secrets/x",
            RefError::Http,
        ),
        (
            "SecretUri=ftp://v.vault.azure.net/secrets/x",
            RefError::NotHttps,
        ),
        (
            "SecretUri=https://v.vault.azure.net/keys/x",
            RefError::BadPath,
        ),
        (
            "SecretUri=https://v.vault.azure.net/secrets/",
            RefError::BadSecretName,
        ),
        (
            "SecretUri=https://v.vault.azure.net/secrets/a/b/c",
            RefError::BadPath,
        ),
        (
            "SecretUri=https://v.vault.azure.net/secrets/a?x=1",
            RefError::UrlExtras,
        ),
        (
            "SecretUri=https://u:p@v.vault.azure.net/secrets/a",
            RefError::UrlExtras,
        ),
        (
            "SecretUri=https://v.vault.azure.net/secrets/a_b",
            RefError::BadSecretName,
        ),
        ("VaultName=myvault;SecretName=a.b", RefError::BadSecretName),
        (
            "VaultName=myvault;SecretName=a;SecretVersion=x-y",
            RefError::BadVersion,
        ),
        ("VaultName=my_vault;SecretName=a", RefError::BadVaultName),
        ("VaultName=1vault;SecretName=a", RefError::BadVaultName),
        ("VaultName=ab;SecretName=a", RefError::BadVaultName),
        ("VaultName=my--vault;SecretName=a", RefError::BadVaultName),
    ];
    for (body, want) in cases {
        assert_eq!(p(body), Err(want), "{body}");
    }
    assert_eq!(
        p(&format!("VaultName=myvault;SecretName={}", "a".repeat(128))),
        Err(RefError::BadSecretName)
    );
    assert!(p(&format!("VaultName=myvault;SecretName={}", "a".repeat(127))).is_ok());
}

#[test]
fn display_never_needs_a_value() {
    let r = p("SecretUri=https://127.0.0.1:8443/secrets/a/0123").unwrap();
    assert_eq!(r.to_string(), "127.0.0.1:8443/secrets/a/0123");
    assert_eq!(r.vault.url(), "https://127.0.0.1:8443");
}
