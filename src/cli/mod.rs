//! Commands. Results go to stdout, progress and warnings to stderr; every failure is one line
//! on stderr and a non-zero exit (2 usage or I/O, 3 committed with rejects, 4 aborted by
//! `--max-errors`, 1 anything else).

pub mod allocator;
mod demo;
mod heap;
mod info;
mod ingest_cmd;
mod maintenance_cmd;
mod progress;
mod report_cmd;
mod search_cmd;
mod serve_cmd;
mod sql_cmd;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use omslake::generate::Layout;
use omslake::query::output::Format;

#[derive(Parser)]
#[command(
    name = "omslake",
    version,
    about = "Embedded columnar store for Log Analytics (OMS) and Office 365 JSON exports"
)]
pub struct Cli {
    /// Store folder [default: $OMSLAKE_STORE, else ./omslake-store]
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest JSON exports (files, folders, .gz, or '-' for stdin) into the store
    #[command(
        after_help = "Examples:\n  omslake --store ./s ingest exports/\n  omslake --store ./s ingest - --table Event < events.ndjson\n  omslake --store ./s ingest big/ --max-errors 100\n\nOn Linux with glibc an ingest runs on jemalloc (it starts itself again so); OMSLAKE_HEAP=system keeps glibc's heap."
    )]
    Ingest {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Store every record in this table, whatever its Type field says
        #[arg(long)]
        table: Option<String>,
        /// Abort with nothing committed once more than N records are rejected
        #[arg(long, value_name = "N")]
        max_errors: Option<u64>,
        /// Give up after this many seconds if another writer holds the store
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        lock_timeout: Option<Duration>,
        /// Memory for decoded rows held across day partitions and for the dedup keys of those
        /// partitions; when full, the largest partition's rows wait on disk until commit (rows
        /// keep at least a quarter). More is faster; less bounds memory tighter [default, to stay
        /// under 512 MB: 384 for inputs up to 640 MiB in all, 192 above and for stdin, less
        /// while the process holds over 400 MiB (wide records); a value given here is kept]
        #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        buffer_mb: Option<u64>,
        /// No progress bar (it is drawn only when stderr is a terminal)
        #[arg(long, short)]
        quiet: bool,
    },
    /// List tables with row count, files, bytes and time range
    #[command(after_help = "Example:\n  omslake --store ./s tables")]
    Tables,
    /// Show a table's columns, types and descriptions
    #[command(after_help = "Examples:\n  omslake schema Update\n  omslake schema OfficeActivity")]
    Schema { table: String },
    /// Run a read-only SQL query
    #[command(
        after_help = "Examples:\n  omslake --store ./s sql 'SELECT \"Computer\", count(*) FROM \"Update\" WHERE \"UpdateState\" = '\''Needed'\'' GROUP BY 1' --format csv\n  omslake --store ./s sql 'SELECT * FROM \"Event\"' --output events.parquet\n  omslake --store ./s sql 'SELECT count(*) FROM \"Update\"' --as-of 3"
    )]
    Sql {
        query: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Run a legacy OMS search (e.g. 'Type=Update UpdateState=Needed | measure count() by Computer')
    #[command(
        after_help = "Examples:\n  omslake --store ./s search 'Type:Update OSType!=Linux UpdateState=Needed Optional=false | measure count() by Computer'\n  omslake --store ./s search 'Type=Event EventLevelName=error Computer IN {Type=Update UpdateState=Needed | Distinct Computer}' --format ndjson\n  omslake --store ./s search 'Type=Update | measure count() by Classification' --show-sql"
    )]
    Search {
        search: String,
        #[command(flatten)]
        out: OutputArgs,
        /// Print the SQL the search becomes on stderr
        #[arg(long)]
        show_sql: bool,
        #[command(flatten)]
        lang: LanguageArgs,
    },
    /// Print the SQL a legacy search becomes (run it with `omslake sql`, or on Spark or DuckDB)
    #[command(
        after_help = "Examples:\n  omslake translate 'Type=UpdateSummary | measure count() by WindowsUpdateSetting'\n  omslake translate --dialect spark 'Type=Update UpdateState=Needed | measure count() by Computer'"
    )]
    Translate {
        search: String,
        #[command(flatten)]
        lang: LanguageArgs,
        /// The engine the SQL is for (Spark and DuckDB with their session time zone UTC)
        #[arg(long, value_enum, default_value = "datafusion")]
        dialect: omslake::search::dialect::Dialect,
    },
    /// Generate deterministic sample exports
    #[command(
        after_help = "Examples:\n  omslake generate --scale 4 --out gen/\n  omslake generate --scale 0.1 --out small/ --layout mixed"
    )]
    Generate {
        /// Size: 1 is about 50 MB of JSON (4 about 200 MB), up to 1000; written as generated,
        /// except --layout mixed, which needs about 340 MiB of memory a unit
        #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
        scale: f64,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "ndjson")]
        layout: Layout,
        /// No progress display (it is drawn only when stderr is a terminal)
        #[arg(long, short)]
        quiet: bool,
    },
    /// Merge each day partition's files into one sorted, deduplicated file
    #[command(
        after_help = "Example:\n  omslake --store ./s compact && omslake --store ./s vacuum"
    )]
    Compact {
        /// Rows per output file
        #[arg(long, default_value_t = 1_048_576, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
        target_rows: u64,
        /// No progress bar (it is drawn only when stderr is a terminal)
        #[arg(long, short)]
        quiet: bool,
        /// Give up after this many seconds if another writer holds the store
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        lock_timeout: Option<Duration>,
    },
    /// Drop whole day partitions older than an age (e.g. 90d)
    #[command(after_help = "Example:\n  omslake --store ./s retain --older-than 90d")]
    Retain {
        #[arg(long, value_name = "AGE")]
        older_than: String,
        /// Give up after this many seconds if another writer holds the store
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        lock_timeout: Option<Duration>,
    },
    /// Delete files no commit references any more
    #[command(
        after_help = "Examples:\n  omslake --store ./s vacuum\n  omslake --store ./s vacuum --min-age 7d"
    )]
    Vacuum {
        /// Keep files a commit younger than this still named (readers may be using them)
        #[arg(long, value_name = "AGE", default_value = "1h")]
        min_age: String,
        /// Give up after this many seconds if another writer holds the store
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        lock_timeout: Option<Duration>,
    },
    /// Read every committed file and check it against the log (changes nothing)
    #[command(after_help = "Example:\n  omslake --store ./s verify")]
    Verify {
        /// No progress bar (it is drawn only when stderr is a terminal)
        #[arg(long, short)]
        quiet: bool,
    },
    /// List the store's versions: time, operation, files and rows added and removed, sources
    #[command(
        after_help = "Examples:\n  omslake --store ./s history\n  omslake --store ./s sql 'SELECT count(*) FROM \"Event\"' --as-of 2"
    )]
    History,
    /// Write the Delta Lake logs of a store made before them (any write also does this)
    Upgrade {
        #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
        lock_timeout: Option<Duration>,
    },
    /// Write the update-compliance report: one self-contained HTML file
    #[command(
        after_help = "Examples:\n  omslake --store ./s report --out compliance.html\n  omslake --store ./s report --out last-month.html --since 30d --title \"Contoso patching\""
    )]
    Report {
        /// The HTML file to write
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Only the records of this many days before now (e.g. 30d)
        #[arg(long, value_name = "AGE")]
        since: Option<String>,
        /// The report's heading
        #[arg(long, default_value = "Update compliance")]
        title: String,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell)
    #[command(
        after_help = "Examples:\n  omslake completions bash > /etc/bash_completion.d/omslake\n  omslake completions zsh > \"${fpath[1]}/_omslake\"\n  omslake completions powershell >> $PROFILE"
    )]
    Completions { shell: clap_complete::Shell },
    /// Answer the Log Analytics query API (POST /v1/workspaces/{id}/query, /v1/$batch)
    #[command(
        after_help = "Examples:\n  omslake --store ./s serve\n  omslake --store ./s serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --token-file token\n  curl -s localhost:8080/v1/workspaces/any/query -d '{\"query\": \"Type=Event | measure count() by Computer\"}'"
    )]
    Serve {
        /// Address to listen on; anything but loopback needs --token-file
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
        listen: std::net::SocketAddr,
        /// TLS certificate chain (PEM); with --tls-key, serve https
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM)
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// A file holding the bearer token every request must send
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Stop a query after this many seconds (504)
        #[arg(long, default_value = "60", value_parser = parse_seconds, value_name = "SECONDS")]
        query_timeout: Duration,
        /// Queries run at once; others wait up to half the query timeout, then get 429
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
        max_concurrent: u64,
        /// Largest request body
        #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
        max_body_kb: u64,
        /// Most rows an answer may have (more is an error, never a truncated answer)
        #[arg(long, default_value_t = 500_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        max_result_rows: u64,
        /// Largest answer
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65_536))]
        max_result_mb: u64,
        /// Memory the queries may use together (e.g. 2GB)
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        memory_limit: Option<usize>,
    },
    /// Ingest the bundled sample exports and answer the documented searches
    #[command(after_help = "Example:\n  omslake demo")]
    Demo {
        /// Sample folder: exports/ plus searches.txt [default: the project's data/]
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct OutputArgs {
    /// Result format [default: from --output's extension, else table]
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write every row to FILE, in the format its extension names (.csv, .tsv, .json,
    /// .ndjson/.jsonl, .parquet, .txt for the table) unless --format says otherwise
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Rows the table format shows on a terminal before it truncates (files and pipes get all)
    #[arg(long, default_value_t = 100)]
    max_rows: usize,
    /// Memory the query may use (e.g. 512MB, 2GB): sorts and aggregations spill to temporary
    /// files beyond it, other queries stop with an error [default: half the machine's memory]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<usize>,
    /// Read the store as it was at a version (see `omslake history`) or a time (RFC 3339),
    /// while that version's files exist (until `vacuum` removes them)
    #[arg(long, value_name = "VERSION|TIME")]
    as_of: Option<String>,
}

/// `512MB`, `2GB`, `1.5G`, `64k` or plain bytes (binary units: 1 MB = 1024 KB).
fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("unknown unit {other:?} (use KB, MB, GB or TB)")),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 512MB or 2GB"))?;
    let bytes = n * (1u64 << shift) as f64;
    if !(1.0..=usize::MAX as f64).contains(&bytes) {
        return Err(format!("{text:?} is not a usable memory size"));
    }
    Ok(bytes as usize)
}

/// A number of seconds from 0 to a year (fractions allowed), for waits.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.0..=31_536_000.0).contains(&secs) {
        return Err(format!(
            "{text:?} must be between 0 and 31536000 seconds (a year)"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `generate --scale`: a positive number up to 1000.
fn parse_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if !(scale > 0.0 && scale <= 1000.0) {
        return Err(format!("{text:?} must be above 0 and at most 1000"));
    }
    Ok(scale)
}

#[derive(clap::Args)]
struct LanguageArgs {
    /// Refuse to repair malformed searches (an unclosed '(', a dangling '&')
    #[arg(long)]
    strict: bool,
    /// Compare string values exactly instead of ignoring case
    #[arg(long)]
    case_sensitive: bool,
}

pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_REJECTS: i32 = 3;
pub const EXIT_ABORTED: i32 = 4;

const STACK_BYTES: usize = 64 << 20;

/// Run the command on a thread with a large stack (see `run`).
pub fn main() -> i32 {
    std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(run)
        .expect("spawn the main thread")
        .join()
        .unwrap_or(EXIT_FAILURE)
}

fn run() -> i32 {
    let cli = match parse_args() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            eprintln!("omslake: {}", one_line_usage_error(&e.render().to_string()));
            return EXIT_USAGE;
        }
        Err(e) => {
            let _ = e.print();
            return 0;
        }
    };
    match heap_setting(&cli.command) {
        HeapSetting::HugePages => heap::rerun_with_huge_pages(),
        HeapSetting::LargeSteps => heap::grow_in_large_steps(),
        HeapSetting::Jemalloc => {
            allocator::rerun_for_ingest();
            heap::grow_in_large_steps();
        }
        HeapSetting::Default => {}
    }
    let explicit_store = cli
        .store
        .clone()
        .or_else(|| std::env::var_os("OMSLAKE_STORE").map(PathBuf::from));
    let store = explicit_store
        .clone()
        .unwrap_or_else(|| PathBuf::from("omslake-store"));
    // DataFusion plans recursively; big searches (many terms over wide tables) need more than
    // the default 2 MiB worker stack.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK_BYTES)
        .build()
        .expect("tokio runtime");
    let result = match cli.command {
        Command::Ingest {
            paths,
            table,
            max_errors,
            lock_timeout,
            buffer_mb,
            quiet,
        } => ingest_cmd::run(
            &store,
            &paths,
            table,
            max_errors,
            lock_timeout,
            buffer_mb,
            quiet,
        ),
        Command::Tables => info::tables(&store),
        Command::Schema { table } => info::schema(&table),
        Command::Sql { query, out } => runtime.block_on(sql_cmd::run(&store, &query, &out)),
        Command::Search {
            search,
            out,
            show_sql,
            lang,
        } => runtime.block_on(search_cmd::search(&store, &search, &out, show_sql, &lang)),
        Command::Translate {
            search,
            lang,
            dialect,
        } => search_cmd::translate(&search, &lang, dialect),
        Command::Compact {
            target_rows,
            lock_timeout,
            quiet,
        } => maintenance_cmd::compact(&store, target_rows as usize, lock_timeout, quiet),
        Command::Retain {
            older_than,
            lock_timeout,
        } => maintenance_cmd::retain(&store, &older_than, lock_timeout),
        Command::Vacuum {
            min_age,
            lock_timeout,
        } => maintenance_cmd::vacuum(&store, &min_age, lock_timeout),
        Command::Verify { quiet } => maintenance_cmd::verify(&store, quiet),
        Command::History => info::history(&store),
        Command::Report { out, since, title } => {
            runtime.block_on(report_cmd::run(&store, &out, since.as_deref(), title))
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "omslake",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Upgrade { lock_timeout } => maintenance_cmd::upgrade(&store, lock_timeout),
        Command::Generate {
            scale,
            out,
            layout,
            quiet,
        } => generate(scale, &out, layout, quiet),
        Command::Demo { data } => runtime.block_on(demo::run(explicit_store, data)),
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            token_file,
            query_timeout,
            max_concurrent,
            max_body_kb,
            max_result_rows,
            max_result_mb,
            memory_limit,
        } => serve_cmd::run(
            &runtime,
            serve_cmd::Args {
                store: store.clone(),
                listen,
                tls: tls_cert.zip(tls_key),
                token_file,
                query_timeout,
                max_concurrent: max_concurrent as usize,
                max_body_bytes: (max_body_kb as usize) << 10,
                max_result_rows: max_result_rows as usize,
                max_result_bytes: (max_result_mb as usize) << 20,
                memory_limit,
            },
        ),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("omslake: {}", e.message);
            e.code
        }
    }
}

/// How a command's process sets up its heap (see `heap` and `allocator`).
#[derive(Debug, PartialEq)]
enum HeapSetting {
    HugePages,
    LargeSteps,
    Jemalloc,
    Default,
}

fn heap_setting(command: &Command) -> HeapSetting {
    match command {
        // An export to a file streams every row through once: page zeroing on huge pages
        // cost it more than it saved (bench/NOTES.md).
        Command::Sql { out, .. } | Command::Search { out, .. } if out.output.is_some() => {
            HeapSetting::LargeSteps
        }
        Command::Sql { .. } | Command::Search { .. } => HeapSetting::HugePages,
        Command::Ingest { .. } => HeapSetting::Jemalloc,
        _ => HeapSetting::Default,
    }
}

/// The store's on-disk format, as `--version` names it.
const STORE_FORMAT: &str = "2 (each table a Delta Lake table, protocol reader 1 / writer 2, with the writer journal _log/)";

/// The command line, with `--version` naming the engines and the store format.
fn parse_args() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let parquet = parquet::file::properties::DEFAULT_CREATED_BY
        .rsplit(' ')
        .next()
        .unwrap_or("?");
    let version: &'static str = Box::leak(
        format!(
            "{}\nDataFusion {}\nParquet (arrow-rs) {parquet}\nstore format {STORE_FORMAT}",
            env!("CARGO_PKG_VERSION"),
            datafusion::DATAFUSION_VERSION,
        )
        .into_boxed_str(),
    );
    let matches = Cli::command()
        .version(version)
        .long_version(version)
        .try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// clap's error text (a message, maybe a list, a usage block and a hint) as one line: the
/// lines before the first blank one, joined, and where to look for more.
fn one_line_usage_error(rendered: &str) -> String {
    let mut text: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    // clap's "did you mean" lines come after a blank line.
    text.extend(
        rendered
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("tip:")),
    );
    let text = text.join(" ");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    format!("{text} (see --help)")
}

/// A failed command: the one line to print and the exit code.
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    pub fn new(code: i32, message: impl std::fmt::Display) -> Failure {
        Failure {
            message: message.to_string(),
            code,
        }
    }
}

impl From<omslake::query::QueryError> for Failure {
    fn from(e: omslake::query::QueryError) -> Failure {
        let code = match e {
            omslake::query::QueryError::Store(_) | omslake::query::QueryError::Output { .. } => {
                EXIT_USAGE
            }
            _ => EXIT_FAILURE,
        };
        Failure::new(code, e)
    }
}

impl From<omslake::store::StoreError> for Failure {
    fn from(e: omslake::store::StoreError) -> Failure {
        Failure::new(EXIT_USAGE, e)
    }
}

pub type CmdResult = Result<i32, Failure>;

fn generate(scale: f64, out: &std::path::Path, layout: Layout, quiet: bool) -> CmdResult {
    if !(scale > 0.0 && scale <= 1000.0) {
        return Err(Failure::new(
            EXIT_USAGE,
            format!("--scale must be in (0, 1000], got {scale}"),
        ));
    }
    // `--layout mixed` builds each table whole: past the memory there is, the system would
    // kill it part-way, so say so first.
    let needed = omslake::generate::memory_needed(scale, layout);
    if let (Some(needed), Some(available)) = (needed, omslake::store::memory::available()) {
        if needed > available {
            let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
            return Err(Failure::new(
                EXIT_USAGE,
                format!(
                    "--scale {scale} with --layout mixed needs about {:.1} GiB of memory while it generates (each table is built whole), more than the {:.1} GiB available: use --scale {} or less, or --layout ndjson",
                    gib(needed),
                    gib(available),
                    omslake::generate::largest_scale(available)
                ),
            ));
        }
    }
    let bar = progress::spinner("generate", quiet);
    let files = omslake::generate::write_each(scale, layout, out, &mut |name| {
        bar.set_message(name.to_string())
    });
    bar.finish_and_clear();
    let files =
        files.map_err(|e| Failure::new(EXIT_USAGE, format!("writing {}: {e}", out.display())))?;
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "wrote {} files, {} bytes, to {}",
        files.len(),
        bytes,
        out.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Queries answered on a terminal or a pipe run on huge pages; exports to a file grow the
    /// heap in large steps; ingests run on jemalloc; other commands leave the heap alone.
    #[test]
    fn each_command_sets_up_the_heap_it_gains_from() {
        let setting = |args: &[&str]| heap_setting(&Cli::try_parse_from(args).unwrap().command);
        let q = "select 1";
        assert_eq!(setting(&["omslake", "sql", q]), HeapSetting::HugePages);
        assert_eq!(
            setting(&["omslake", "search", "Type=Event"]),
            HeapSetting::HugePages
        );
        let export = ["omslake", "sql", q, "--output", "x.csv"];
        assert_eq!(setting(&export), HeapSetting::LargeSteps);
        assert_eq!(
            setting(&["omslake", "ingest", "x.json"]),
            HeapSetting::Jemalloc
        );
        assert_eq!(setting(&["omslake", "tables"]), HeapSetting::Default);
    }
}
