//! A private PostgreSQL + PostGIS cluster for tests: `initdb` in a temporary directory, a server
//! on a free port of 127.0.0.1 (and a Unix socket in that directory only), a database
//! `terriens` with the `postgis` extension. Never the system's cluster, never a mock.
//!
//! The server binaries are the newest `/usr/lib/postgresql/*/bin` (Debian's layout; installed by
//! `scripts/ensure-deps.sh --test`). PostgreSQL refuses to run as root: when the tests run as
//! root, `initdb` and `pg_ctl` run as the `postgres` user through `runuser`, and the temporary
//! directory belongs to that user.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The database the tests use (made by [`PgCluster::start`], with PostGIS).
pub const DB: &str = "terriens";

/// How many lines of `server.log` a failure message shows.
const LOG_TAIL_LINES: usize = 40;

pub struct PgCluster {
    /// Holds `data/` and `server.log` (and the Unix socket); removed on drop.
    dir: tempfile::TempDir,
    /// `/usr/lib/postgresql/<version>/bin`.
    bin: PathBuf,
    port: u16,
    /// Whether `initdb` and `pg_ctl` run as `postgres` (the tests run as root).
    as_postgres: bool,
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb` and `pg_ctl`, with its
/// version directory name.
fn newest_bin() -> Option<(String, PathBuf)> {
    let mut found: Vec<(Vec<u32>, String, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().into_owned();
            let bin = e.path().join("bin");
            let key = version
                .split('.')
                .map(|n| n.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists())
                .then_some((key, version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, version, bin)| (version, bin))
}

/// A free TCP port of 127.0.0.1 (bound, then released for the server).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .args(["-u", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

impl PgCluster {
    /// A running private cluster, or `None` (after saying why `test` cannot have one) when
    /// PostgreSQL or PostGIS is not installed. Panics when they are there but the cluster does
    /// not start.
    pub fn start(test: &str) -> Option<PgCluster> {
        let why = |what: &str| {
            eprintln!("{test} needs {what}: run scripts/ensure-deps.sh --test");
        };
        let Some((version, bin)) = newest_bin() else {
            why("the PostgreSQL server (/usr/lib/postgresql/*/bin/pg_ctl, package postgresql)");
            return None;
        };
        let control = format!("/usr/share/postgresql/{version}/extension/postgis.control");
        if !Path::new(&control).exists() {
            why(&format!(
                "PostGIS for PostgreSQL {version} ({control}, package postgresql-{version}-postgis-3)"
            ));
            return None;
        }
        let as_postgres = is_root();
        if as_postgres && !user_exists("postgres") {
            why("the system user postgres (PostgreSQL refuses to run as root)");
            return None;
        }
        // In /tmp, not $TMPDIR: the `postgres` user must reach it, and the socket path must stay
        // short (about 100 bytes at most).
        let dir = tempfile::Builder::new()
            .prefix("terriens-pg-")
            .tempdir_in("/tmp")
            .expect("a temporary directory in /tmp");
        let mut cluster = PgCluster {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:").arg(cluster.dir.path());
            cluster.run("chown the cluster directory to postgres", &mut chown);
        }
        let mut initdb = cluster.server_command("initdb");
        initdb.arg("-D").arg(cluster.data_dir()).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        cluster.run("initdb", &mut initdb);
        // Another process may take the port between its release and the server's bind: try
        // a few fresh ports then.
        let mut attempt = 1;
        loop {
            let out = cluster.pg_ctl_start();
            if out.status.success() {
                break;
            }
            if attempt < 3 && cluster.log_tail().contains("could not bind") {
                attempt += 1;
                cluster.port = free_port();
                continue;
            }
            cluster.fail("pg_ctl start", &out);
        }
        cluster.psql_in("postgres", &format!("CREATE DATABASE {DB};"));
        cluster.psql("CREATE EXTENSION postgis;");
        Some(cluster)
    }

    /// [`PgCluster::start`], panicking with a clear message when PostgreSQL or PostGIS is
    /// missing (`scripts/ensure-deps.sh --test` installs them, so a test should have them).
    pub fn require(test: &str) -> PgCluster {
        PgCluster::start(test).unwrap_or_else(|| {
            panic!(
                "{test} needs a private PostgreSQL + PostGIS cluster (see above): run \
                 scripts/ensure-deps.sh --test"
            )
        })
    }

    /// `postgresql://postgres@127.0.0.1:PORT/terriens`.
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{DB}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory (`data/`, `server.log`, the Unix socket).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The last lines of `server.log`.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// Runs `sql` (one or more statements) in the database `terriens` with
    /// `psql -X -q -At -v ON_ERROR_STOP=1`, returning its standard output: the rows of every
    /// query, one a line, columns separated by `|` (no headers, no command tags). Panics with
    /// psql's errors on failure.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in(DB, sql)
    }

    /// [`PgCluster::psql`] in another database.
    pub fn psql_in(&self, db: &str, sql: &str) -> String {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
        ])
        .arg(self.port.to_string())
        .args(["-U", "postgres", "-d", db, "-f", "-"])
        .current_dir(self.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("psql starts");
        // A psql that fails at once closes its input: its status and errors tell why.
        let _ = child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(sql.as_bytes());
        let out = child.wait_with_output().expect("psql runs");
        if !out.status.success() {
            self.fail(&format!("psql -d {db} running `{}`", sql.trim()), &out);
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `pg_ctl stop -m fast` (waits until the server is down).
    pub fn stop(&self) {
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-m", "fast", "stop"]);
        self.run("pg_ctl stop -m fast", &mut cmd);
    }

    /// Starts the stopped server again, on the same port and directory.
    pub fn start_again(&self) {
        let out = self.pg_ctl_start();
        if !out.status.success() {
            self.fail("pg_ctl start (again)", &out);
        }
    }

    /// [`PgCluster::stop`] then [`PgCluster::start_again`].
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    fn pg_ctl_start(&self) -> Output {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c max_connections=100 -c fsync=off -c synchronous_commit=on \
             -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", "120", "-o", &options, "start"]);
        cmd.output().expect("pg_ctl runs")
    }

    /// `bin/PROGRAM`, through `runuser -u postgres --` when running as root; in the cluster's
    /// directory (the `postgres` user may not reach the current one).
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }

    /// Runs `cmd`, panicking (with its output and the server log) when it fails.
    fn run(&self, what: &str, cmd: &mut Command) -> Output {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
        if !out.status.success() {
            self.fail(what, &out);
        }
        out
    }

    fn fail(&self, what: &str, out: &Output) -> ! {
        panic!(
            "{what} failed ({}):\n{}{}\n--- last lines of {}:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_path().display(),
            self.log_tail()
        );
    }
}

impl Drop for PgCluster {
    /// Stops the server at once (`pg_ctl stop -m immediate`, whether it runs or not); the
    /// temporary directory is removed after.
    fn drop(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            let _ = self
                .server_command("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-w", "-m", "immediate", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
