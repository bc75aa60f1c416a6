use super::*;
use std::path::Path;

const REF: &str = "@Microsoft.KeyVault(VaultName=myvault;SecretName=db)";

fn os(s: &str) -> OsString {
    OsString::from(s)
}

#[test]
fn references_are_found_with_where_they_are() {
    let vars = vec![
        (os("CONN"), os(&format!("Password={REF};"))),
        (os("PLAIN"), os("no reference")),
    ];
    let text = format!("a\nb\npassword = {REF}\n");
    let plan = Plan::of(&vars, &[(Path::new("app.conf"), &text)], Cloud::Public);
    // The plain variable is not kept; the template always is.
    assert_eq!(plan.items.len(), 2);
    assert_eq!(
        plan.refs().len(),
        1,
        "the same reference twice is fetched once"
    );
    let rows = plan.rows(&Resolution::default(), &|_| false);
    let locations: Vec<&str> = rows.iter().map(|r| r.location.as_str()).collect();
    assert_eq!(locations, ["CONN", "app.conf:3"]);
    assert!(rows
        .iter()
        .all(|r| r.status == Status::OtherReasons && r.detail == "not attempted"));
}

#[test]
fn a_malformed_reference_names_its_variable_and_never_its_value() {
    let vars = vec![(
        os("BROKEN"),
        os("secret-ish @Microsoft.KeyVault(VaultName=v;SecretNam=x)"),
    )];
    let plan = Plan::of(&vars, &[], Cloud::Public);
    let err = plan.check_syntax(false).unwrap_err().to_string();
    assert!(
        err.starts_with("BROKEN: InvalidSyntax: unknown parameter 'SecretNam'"),
        "{err}"
    );
    assert!(!err.contains("secret-ish"));
    // Kept literally, it is a warning, not an error.
    assert!(plan.check_syntax(true).is_ok());
    assert_eq!(
        plan.rows(&Resolution::default(), &|_| false)[0].status,
        Status::InvalidSyntax
    );
}

#[test]
fn the_rendered_length_is_known_before_rendering() {
    let vars = vec![(os("CONN"), os(&format!("x={REF};y={REF}")))];
    let plan = Plan::of(&vars, &[], Cloud::Public);
    let mut resolution = Resolution::default();
    let r = plan.refs().into_iter().next().unwrap();
    resolution.values.insert(
        r,
        crate::vault::Fetched {
            value: SecretBytes::new(b"s3cret".to_vec()),
            version: None,
            warning: None,
            expires_on: None,
            meta: Default::default(),
        },
    );
    let item = &plan.items[0];
    assert_eq!(item.render(&resolution).expose(), b"x=s3cret;y=s3cret");
    assert_eq!(item.rendered_len(&resolution), "x=s3cret;y=s3cret".len());
}
