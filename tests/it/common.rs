use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_omslake")
}

pub fn project_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A temporary folder with a store inside.
pub struct Env {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.arg("--store")
            .arg(self.store())
            .current_dir(self.dir.path());
        c.env_remove("OMSLAKE_FAULT");
        c.env_remove("OMSLAKE_HEAP");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command().args(args).output().unwrap())
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    /// `omslake generate --scale <scale>` into the folder `gen` (panics on failure).
    pub fn generate(&self, scale: &str) -> PathBuf {
        let gen = self.path("gen");
        let r = self.run(&["generate", "--scale", scale, "--out", gen.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        gen
    }

    pub fn ingest(&self, paths: &[&Path]) -> Run {
        let mut args = vec!["ingest".to_string()];
        args.extend(paths.iter().map(|p| p.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args)
    }

    /// Run SQL, return the CSV lines after the header (panics on failure).
    pub fn csv(&self, sql: &str) -> Vec<String> {
        let r = self.run(&["sql", sql, "--format", "csv"]);
        assert_eq!(r.code, 0, "sql failed: {sql}\n{}", r.stderr);
        r.stdout.lines().skip(1).map(str::to_string).collect()
    }

    pub fn count(&self, table: &str) -> u64 {
        self.csv(&format!("SELECT count(*) FROM \"{table}\""))[0]
            .parse()
            .unwrap()
    }
}
