use super::*;

fn shapes(fields: &[(&str, &str)], expands: &[(&str, &str)]) -> Shapes {
    let own = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let (fields, expands) = (own(fields), own(expands));
    let wanted = Wanted {
        fields: &fields,
        expands: &expands,
        ..Wanted::default()
    };
    Shapes::new(wanted, &|_| Some(true), &|_| true).unwrap()
}

fn value(shaped: Shaped) -> String {
    match shaped {
        Shaped::Value(v) => String::from_utf8(v.expose().to_vec()).unwrap(),
        _ => panic!("not a value"),
    }
}

#[test]
fn pointers_pick_members_strings_as_text_the_rest_as_compact_json() {
    let doc = r#"{"user":"app","port":5432,"tls":true,"none":null,"a/b":{"c~d":["x",{"y":1}]},"list":[1, 2]}"#;
    for (pointer, expected) in [
        ("/user", "app"),
        ("/port", "5432"),
        ("/tls", "true"),
        ("/none", "null"),
        ("/a~1b/c~0d/0", "x"),
        ("/a~1b/c~0d/1", r#"{"y":1}"#),
        ("/list", "[1,2]"),
    ] {
        let s = shapes(&[("V", pointer)], &[]);
        let got = value(
            s.apply(
                "V",
                SecretBytes::new(doc.as_bytes().to_vec()),
                None,
                "secret 's'",
            )
            .unwrap(),
        );
        assert_eq!(got, expected, "{pointer}");
    }
    let whole = shapes(&[("V", "")], &[]);
    let got = value(
        whole
            .apply("V", SecretBytes::new(b"{ \"a\" : 1 }".to_vec()), None, "s")
            .unwrap(),
    );
    assert_eq!(got, r#"{"a":1}"#);
    let missing = shapes(&[("V", "/nope")], &[]);
    let err = missing
        .apply("V", SecretBytes::new(doc.as_bytes().to_vec()), None, "s")
        .err()
        .unwrap();
    assert_eq!(err.status, Status::FieldNotFound);
    let err = missing
        .apply("V", SecretBytes::new(b"not json".to_vec()), None, "s")
        .err()
        .unwrap();
    assert_eq!(err.status, Status::InvalidJson);
}

#[test]
fn flags_are_checked_as_given() {
    assert!(parse_field("V=/a").is_ok() && parse_field("V=").is_ok());
    for bad in ["V", "V=a", "V=/~2", "1V=/a"] {
        assert!(parse_field(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_expand("DB").unwrap(), ("DB".into(), "DB_".into()));
    assert_eq!(parse_expand("DB=").unwrap(), ("DB".into(), "".into()));
    assert_eq!(parse_optional("X").unwrap(), ("X".into(), None));
    assert_eq!(
        parse_optional("X=").unwrap(),
        ("X".into(), Some(String::new()))
    );
}
