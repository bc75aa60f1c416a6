//! Unit tests for `cli`.

use super::*;

fn settings(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, String> {
    let argv = ["kvenv", "check"].iter().chain(args);
    match Cli::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .command
    {
        Command::Check(check) => Ok(check.common.settings(env.iter().copied().collect())),
        _ => unreachable!(),
    }
}

#[test]
fn flags_are_checked_as_they_are_parsed() {
    for (args, flag) in [
        (&["--timeout", "0"][..], "--timeout"),
        (&["--timeout", "inf"], "--timeout"),
        (&["--concurrency", "0"], "--concurrency"),
        (&["--concurrency", "2000"], "--concurrency"),
        (&["--allow-host", "https://x/"], "--allow-host"),
        (&["--resolve", "host"], "--resolve"),
        (&["--resolve", "h:1=127.0.0.1:1"], "--resolve"),
        (&["--cloud", "mars"], "--cloud"),
        (&["--credential", "magic"], "--credential"),
    ] {
        let err = settings(args, &[]).unwrap_err();
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn lists_skip_blank_entries_and_values_arrive_typed() {
    let s = settings(
        &[
            "--allow-host",
            "a.example,,b.example:8443,",
            "--resolve",
            "KV.example.=127.0.0.1:8443",
            "--timeout",
            "2.5",
            "--cloud",
            "usgov",
        ],
        &[("SSL_CERT_FILE", "/ca.pem")],
    )
    .unwrap();
    assert_eq!(s.allowed.len(), 2);
    assert_eq!(
        s.resolve,
        [("kv.example".to_string(), "127.0.0.1:8443".parse().unwrap())]
    );
    assert_eq!(s.timeout, Duration::from_millis(2500));
    assert_eq!(s.cloud, Cloud::UsGov);
    assert_eq!(s.ca_files, [("SSL_CERT_FILE", PathBuf::from("/ca.pem"))]);
}

#[test]
fn azure_client_id_names_the_user_assigned_identity_unless_a_flag_does() {
    let env = [("AZURE_CLIENT_ID", "from-env")];
    let s = settings(&[], &env).unwrap();
    assert_eq!(
        s.identity.user_assigned,
        Some(UserAssigned::ClientId("from-env".into()))
    );
    let s = settings(&["--object-id", "oid"], &env).unwrap();
    assert_eq!(
        s.identity.user_assigned,
        Some(UserAssigned::ObjectId("oid".into()))
    );
}

#[test]
fn concurrency_defaults_by_protocol_and_a_given_value_holds_for_both() {
    let s = settings(&[], &[]).unwrap();
    assert_eq!((s.concurrency, s.http1_concurrency), (100, 16));
    let s = settings(&["--concurrency", "8"], &[]).unwrap();
    assert_eq!((s.concurrency, s.http1_concurrency), (8, 8));
}
