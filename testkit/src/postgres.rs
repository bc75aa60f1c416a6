//! A real PostgreSQL server for end-to-end tests: a fresh cluster in a
//! temporary folder, on 127.0.0.1 only, with scram-sha-256 password
//! authentication. Running as root, it runs as the `postgres` user, as the
//! packages expect. Stopped and removed on drop, whatever happened.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    run_as: Option<String>,
    superuser_password: String,
}

/// Whether PostgreSQL's server programs are installed (tests skip without them).
pub fn installed() -> bool {
    find_bin().is_some()
}

fn find_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file());
    if let Some(dir) = on_path {
        // /usr/local/bin/initdb may be a link into the real folder, which has psql too.
        let real = std::fs::canonicalize(dir.join("initdb")).ok()?;
        return real.parent().map(Path::to_path_buf);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Postgres {
    /// Starts a cluster; panics with a clear message if PostgreSQL is not installed.
    pub fn start() -> Postgres {
        let bin = find_bin()
            .expect("PostgreSQL is not installed (initdb not found): apt-get install postgresql");
        let dir = tempfile::tempdir().expect("temporary folder for PostgreSQL");
        let run_as = is_root().then(|| "postgres".to_string());
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .args(["-R", user])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown the PostgreSQL folder");
        }
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pg = Postgres {
            dir,
            bin,
            port,
            run_as,
            superuser_password: format!("superuser-{}", crate::random_hex(16)),
        };
        let pwfile = pg.dir.path().join("pwfile");
        std::fs::write(&pwfile, &pg.superuser_password).unwrap();
        if let Some(user) = &pg.run_as {
            Command::new("chown")
                .arg(user)
                .arg(&pwfile)
                .status()
                .unwrap();
        }
        let data = pg.data();
        pg.tool(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "--pwfile",
                &pwfile.display().to_string(),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            pg.port,
            pg.dir.path().display()
        );
        let log = pg.dir.path().join("server.log").display().to_string();
        pg.tool(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn tool(&self, name: &str, args: &[&str]) -> Output {
        let program = self.bin.join(name);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs SQL as the superuser (whose password is not a vault secret).
    pub fn sql(&self, sql: &str) {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-w",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .env("PGPASSWORD", &self.superuser_password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Creates a login role with a database of the same name.
    pub fn create_role(&self, name: &str, password: &str) {
        self.sql(&format!(
            "CREATE ROLE {name} LOGIN PASSWORD '{}'",
            password.replace('\'', "''")
        ));
        self.sql(&format!("CREATE DATABASE {name} OWNER {name}"));
    }

    /// The folder holding `psql` and friends.
    pub fn bin(&self) -> &Path {
        &self.bin
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl");
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
        // The TempDir removes the folder when it drops, right after this.
    }
}
