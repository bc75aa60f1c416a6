use super::*;

fn one(text: &str, cloud: Cloud) -> Result<TokenTarget, Error> {
    let allowed = ["https://myapi.example.com".to_string()];
    targets(&[text.to_string()], &allowed, cloud).map(|mut t| t.remove(0))
}

#[test]
fn names_map_per_cloud_and_uris_are_taken_as_given() {
    for (text, cloud, scope) in [
        (
            "P=oss-rdbms",
            Cloud::Public,
            "https://ossrdbms-aad.database.windows.net/.default",
        ),
        (
            "P=oss-rdbms",
            Cloud::China,
            "https://ossrdbms-aad.database.chinacloudapi.cn/.default",
        ),
        (
            "P=oss-rdbms",
            Cloud::UsGov,
            "https://ossrdbms-aad.database.usgovcloudapi.net/.default",
        ),
        (
            "P=sql",
            Cloud::Public,
            "https://database.windows.net/.default",
        ),
        (
            "P=sql",
            Cloud::UsGov,
            "https://database.usgovcloudapi.net/.default",
        ),
        ("P=redis", Cloud::Public, "https://redis.azure.com/.default"),
        (
            "P=https://myapi.example.com/",
            Cloud::Public,
            "https://myapi.example.com/.default",
        ),
    ] {
        assert_eq!(
            one(text, cloud).unwrap().token.scope,
            scope,
            "{text} {cloud:?}"
        );
    }
}

#[test]
fn control_plane_and_kvenvs_own_audiences_are_refused() {
    for uri in [
        "https://management.azure.com/",
        "https://management.core.windows.net/",
        "https://graph.microsoft.com",
        "https://GRAPH.microsoft.us/",
        "https://management.chinacloudapi.cn",
        "https://vault.azure.net",
        "https://myvault.vault.azure.net",
        "https://appconfig.azure.com",
        "https://azconfig.io",
        "https://mystore.azconfig.io/",
        "https://managedhsm.azure.net",
        "https://myhsm.managedhsm.azure.net",
        "https://outlook.office365.com",
        "https://contoso.sharepoint.com",
        "https://manage.office.com",
        "https://app.vssps.visualstudio.com",
        "https://dev.azure.com",
    ] {
        let err = one(&format!("T={uri}"), Cloud::Public)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--token T: "), "{err}");
        assert!(err.contains("never requests it"), "{uri}: {err}");
    }
    for bad in [
        "T=http://x.example",
        "T=postgres",
        "1T=sql",
        "T=",
        "T",
        "T=https://db.example/ https://management.azure.com",
        "T=https://db.example/\nhttps://management.azure.com",
        "T= sql",
        "T=https://user@myapi.example.com",
        "T=https://myapi.example.com/?x=1",
        "T=https://myapi.example.com/#f",
        "T=https://other.example.com",
    ] {
        assert!(one(bad, Cloud::Public).is_err(), "{bad}");
    }
    assert!(one("T=sql", Cloud::Bleu).is_err());
    let twice = ["T=sql".to_string(), "T=redis".to_string()];
    assert!(targets(&twice, &[], Cloud::Public).is_err());
}
