use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

fn values(pairs: &[(&str, &str)]) -> HashMap<String, SecretBytes> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), SecretBytes::from_string(v.to_string())))
        .collect()
}

fn render(text: &str, secrets: &HashMap<String, SecretBytes>) -> String {
    let t = scan(text, Cloud::Public).unwrap();
    let name = |r: &Reference| match r {
        Reference::Secret(s) => s.name.clone(),
        Reference::Config(c) => c.key.clone(),
        Reference::Token(t) => t.resource.clone(),
    };
    String::from_utf8(t.render(|r| secrets.get(&name(r))).expose().to_vec()).unwrap()
}

#[test]
fn embedded_and_several_references() {
    let s = values(&[("pg", "p;a=s\"s"), ("user", "app")]);
    assert_eq!(
            render(
                "Server=db;User Id=@Microsoft.KeyVault(VaultName=v01;SecretName=user);Password=@Microsoft.KeyVault(VaultName=v01;SecretName=pg);",
                &s
            ),
            "Server=db;User Id=app;Password=p;a=s\"s;"
        );
}

#[test]
fn values_are_not_scanned_again() {
    let s = values(&[(
        "a",
        "@Microsoft.KeyVault(VaultName=v01;SecretName=b)\nline2",
    )]);
    assert_eq!(
        render("x@Microsoft.KeyVault(VaultName=v01;SecretName=a)y", &s),
        "x@Microsoft.KeyVault(VaultName=v01;SecretName=b)\nline2y"
    );
}

#[test]
fn unresolved_references_stay_literal() {
    let text = "a=@Microsoft.KeyVault(VaultName=v01;SecretName=gone)!";
    assert_eq!(render(text, &values(&[])), text);
}

#[test]
fn errors_point_at_the_reference() {
    let text = "line1\nline2 @Microsoft.KeyVault(VaultName=v01)";
    let err = scan(text, Cloud::Public).unwrap_err();
    assert_eq!(err.error, RefError::NoSecretName);
    assert_eq!(line_of(text, err.offset), 2);
    let err = scan(
        "@microsoft.keyvault(VaultName=v01;SecretName=a",
        Cloud::Public,
    )
    .unwrap_err();
    assert_eq!(err.error, RefError::Unterminated);
}

#[test]
fn app_configuration_references_sit_beside_key_vault_ones() {
    let s = values(&[("user", "app"), ("App:Db/Password", "p;w")]);
    assert_eq!(
            render(
                "u=@Microsoft.KeyVault(VaultName=v01;SecretName=user);p=@Microsoft.AppConfiguration(Endpoint=https://s.azconfig.io; Key=App:Db/Password);",
                &s
            ),
            "u=app;p=p;w;"
        );
    let err = scan("x=@microsoft.appconfiguration(Key=k)", Cloud::Public).unwrap_err();
    assert_eq!(err.error, RefError::ConfigIncomplete);
    assert!(mentions_reference(b"\xff@Microsoft.AppConfiguration("));
}

#[test]
fn prefix_is_case_insensitive() {
    let t = scan(
        "@MICROSOFT.KEYVAULT(VaultName=v01;SecretName=a)",
        Cloud::Public,
    )
    .unwrap();
    assert_eq!(t.refs().count(), 1);
    assert!(mentions_reference(b"\xff@microsoft.KeyVault("));
    assert!(!mentions_reference(b"\xff@Microsoft.KeyVault"));
}

proptest! {
    #[test]
    fn scanning_never_panics(text in "\\PC*") {
        let _ = scan(&text, Cloud::Public);
    }

    #[test]
    fn parser_never_panics_near_the_syntax(body in "[ -~]{0,80}") {
        let _ = scan(&format!("x=@Microsoft.KeyVault({body})"), Cloud::Public);
        let _ = reference::parse(&body, Cloud::Public);
    }

    #[test]
    fn text_without_prefix_passes_through(text in "\\PC*") {
        prop_assume!(!mentions_reference(text.as_bytes()));
        let t = scan(&text, Cloud::Public).unwrap();
        prop_assert!(!t.has_refs());
        let rendered = t.render(|_| None);
        prop_assert_eq!(rendered.expose(), text.as_bytes());
    }

    #[test]
    fn values_survive_byte_for_byte(value in "\\PC*", before in "[^@]*", after in "[^@]*") {
        let s = values(&[("a", &value)]);
        let text = format!("{before}@Microsoft.KeyVault(VaultName=v01;SecretName=a){after}");
        prop_assert_eq!(render(&text, &s), format!("{before}{value}{after}"));
    }
}

#[test]
fn encode_is_kvenvs_own_parameter_and_leaves_the_reference_alone() {
    let t = scan(
            "u=@Microsoft.KeyVault(VaultName=vlt;SecretName=db;Encode=uri) p=@Microsoft.KeyVault(VaultName=vlt;SecretName=db)",
            Cloud::Public,
        )
        .unwrap();
    let refs: Vec<&Reference> = t.refs().collect();
    assert_eq!(refs[0], refs[1], "one secret, whatever the encoding");
    let encodings: Vec<Encoding> = t.encodings().map(|(_, e, _)| e).collect();
    assert_eq!(encodings, [Encoding::Uri]);
    let secret = SecretBytes::from_string("a:b@c".into());
    let out = t.render(|_| Some(&secret));
    assert_eq!(out.expose(), b"u=a%3Ab%40c p=a:b@c");
    for bad in ["Encode=base64", "Encode=uri;Encode=json"] {
        let text = format!("@Microsoft.KeyVault(VaultName=vlt;SecretName=db;{bad})");
        assert!(scan(&text, Cloud::Public).is_err(), "{bad}");
    }
}
