//! A real PostgreSQL server whose password lives only in the fake Key Vault:
//! kvenv hands it to psql through an environment variable, a connection
//! string and an in-memory password file.

use crate::support;

use kvenv_testkit::Postgres;
use support::Kit;

const APP_PASSWORD: &str = "pg-App-Pass-8f3b2c71";

fn available(test: &str) -> bool {
    support::need(
        kvenv_testkit::postgres_installed(),
        test,
        "PostgreSQL is not installed (apt-get install postgresql)",
    )
}

fn setup() -> (Kit, Postgres) {
    let pg = Postgres::start();
    pg.create_role("app", APP_PASSWORD);
    let kit = Kit::new();
    kit.azure.vault.set_secret("pg-password", APP_PASSWORD);
    kit.azure
        .vault
        .set_secret("wrong-password", "not-the-pg-password-1");
    (kit, pg)
}

fn psql(pg: &Postgres) -> String {
    pg.bin().join("psql").display().to_string()
}

/// `psql` as user `app` on the test server, never prompting, running `sql`.
fn psql_app(pg: &Postgres, sql: &str) -> Vec<String> {
    psql_as(pg, "app", sql)
}

/// `psql` as `role`, into the database of the same name.
fn psql_as(pg: &Postgres, role: &str, sql: &str) -> Vec<String> {
    let port = pg.port().to_string();
    [
        psql(pg).as_str(),
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        role,
        "-d",
        role,
        "-w",
        "-tAc",
        sql,
    ]
    .map(str::to_string)
    .to_vec()
}

#[test]
fn pgpassword_from_the_vault_connects() {
    if !available("postgres::pgpassword_from_the_vault_connects") {
        return;
    }
    let (kit, pg) = setup();
    let out = kit
        .run()
        .env("PGPASSWORD", kit.azure.vault.reference("pg-password"))
        .command(psql_app(&pg, "select 41 + 1"))
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "42\n");
}

#[test]
fn a_wrong_secret_fails_with_psqls_error_and_exit_code() {
    if !available("postgres::a_wrong_secret_fails_with_psqls_error_and_exit_code") {
        return;
    }
    let (kit, pg) = setup();
    let out = kit
        .run()
        .env("PGPASSWORD", kit.azure.vault.reference("wrong-password"))
        .command(psql_app(&pg, "select 1"))
        .go();
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("password authentication failed for user \"app\""),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("kvenv:"),
        "the error is psql's, not kvenv's"
    );
}

#[test]
fn a_connection_string_with_an_embedded_reference() {
    if !available("postgres::a_connection_string_with_an_embedded_reference") {
        return;
    }
    let (kit, pg) = setup();
    let url = format!(
        "postgresql://app:{}@127.0.0.1:{}/app",
        kit.azure.vault.reference("pg-password"),
        pg.port()
    );
    let out = kit
        .run()
        .env("DATABASE_URL", url)
        .env("PSQL", psql(&pg))
        .command([
            "sh",
            "-c",
            "exec \"$PSQL\" \"$DATABASE_URL\" -w -tAc 'select current_user'",
        ])
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "app\n");
}

#[test]
fn a_pgpass_template_in_memory() {
    if !available("postgres::a_pgpass_template_in_memory") {
        return;
    }
    let (kit, pg) = setup();
    let template = kit.azure.dir().join("pgpass.tmpl");
    std::fs::write(
        &template,
        format!(
            "# host:port:db:user:password\n127.0.0.1:{}:app:app:{}\n",
            pg.port(),
            kit.azure.vault.reference("pg-password")
        ),
    )
    .unwrap();
    let out = kit
        .run()
        .args(["--template", &format!("{}=PGPASSFILE", template.display())])
        .command(psql_app(&pg, "select 'via pgpass'"))
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "via pgpass\n");
    assert!(
        !out.stderr.contains("WARNING"),
        "libpq accepted the file's mode: {}",
        out.stderr
    );
}

// PostgreSQL cannot check an Entra token, so the role's password is set to the
// token the fake identity will issue: what arrives proves the bytes intact.
#[test]
fn an_entra_token_from_token_is_the_password() {
    if !available("postgres::an_entra_token_from_token_is_the_password") {
        return;
    }
    let pg = Postgres::start();
    let kit = Kit::new();
    let token = kit.azure.tokens.issue();
    pg.create_role("app", &token);
    kit.azure.identity.next_token(&token);
    let out = kit
        .run()
        .args(["--token", "PGPASSWORD=oss-rdbms"])
        .command(psql_app(&pg, "select current_user"))
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "app\n");
    // And in a connection string the command builds from it.
    kit.azure.identity.next_token(&token);
    let port = pg.port();
    let out = kit
        .run()
        .args(["--token", "DB_TOKEN=oss-rdbms"])
        .command([
            "sh".to_string(),
            "-c".into(),
            format!("exec \"$0\" \"host=127.0.0.1 port={port} user=app dbname=app password=$DB_TOKEN\" -w -tAc 'select 6 * 7'"),
            psql(&pg),
        ])
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "42\n");
}

/// Passwords that break a `.pgpass` line or a URI written byte for byte.
const HARD_PASSWORDS: &[&str] = &[
    "colon:and\\backslash",
    "p@ss/w?rd#frag%25 and spaces",
    "all: \\ @ / ? # % ' \" =&+",
];

// Regression: the README's .pgpass recipe put the secret in byte for byte, so
// a password with ':' or '\' failed; its DATABASE_URL recipe broke on '@',
// '/', '?', '#' and '%'. `Encode=pgpass` and `Encode=uri` put it in as each
// place needs, and libpq reads back the password.
#[test]
fn pgpass_and_uri_recipes_carry_every_password() {
    if !available("postgres::pgpass_and_uri_recipes_carry_every_password") {
        return;
    }
    let pg = Postgres::start();
    let kit = Kit::new();
    for (i, password) in HARD_PASSWORDS.iter().enumerate() {
        let role = format!("hard{i}");
        pg.create_role(&role, password);
        kit.azure.vault.set_secret(&format!("hard-{i}"), password);
        let template = kit.azure.dir().join(format!("pgpass-{i}.tmpl"));
        // The template names the fake vault's secret through its SecretUri.
        let reference = kit.azure.vault.reference(&format!("hard-{i}"));
        let encoded = reference.replacen(')', ";Encode=pgpass)", 1);
        std::fs::write(
            &template,
            format!("127.0.0.1:{}:{role}:{role}:{encoded}\n", pg.port()),
        )
        .unwrap();
        let out = kit
            .run()
            .args(["--template", &format!("{}=PGPASSFILE", template.display())])
            .command(psql_as(&pg, &role, "select current_user"))
            .go();
        out.assert_code(0);
        assert_eq!(out.stdout, format!("{role}\n"), "pgpass, {password:?}");
        let url = format!(
            "postgresql://{role}:{}@127.0.0.1:{}/{role}",
            reference.replacen(')', ";Encode=uri)", 1),
            pg.port()
        );
        let out = kit
            .run()
            .env("DATABASE_URL", url)
            .env("PSQL", psql(&pg))
            .command([
                "sh",
                "-c",
                "exec \"$PSQL\" \"$DATABASE_URL\" -w -tAc 'select current_user'",
            ])
            .go();
        out.assert_code(0);
        assert_eq!(out.stdout, format!("{role}\n"), "URI, {password:?}");
    }
    // A line break cannot be in a .pgpass field: refused, naming the place.
    kit.azure.vault.set_secret("two-lines", "first\nsecond");
    let template = kit.azure.dir().join("pgpass-nl.tmpl");
    let reference = kit
        .azure
        .vault
        .reference("two-lines")
        .replacen(')', ";Encode=pgpass)", 1);
    std::fs::write(&template, format!("# comment\n*:*:*:app:{reference}\n")).unwrap();
    let out = kit
        .run()
        .args(["--template", &format!("{}=PGPASSFILE", template.display())])
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    assert_eq!(
        out.stderr,
        format!("kvenv: {}:2: OtherReasons: the secret holds a line break, which a .pgpass field cannot hold (Encode=pgpass)\n", template.display())
    );
}
