//! `omslake serve`: check the options, bind, and run the server until a signal.

use std::path::PathBuf;
use std::time::Duration;

use omslake::query::EngineOptions;
use omslake::serve::{self, ServeOptions};

use super::{search_cmd, CmdResult, Failure, EXIT_USAGE};

pub struct Args {
    pub store: PathBuf,
    pub listen: std::net::SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub token_file: Option<PathBuf>,
    pub query_timeout: Duration,
    pub max_concurrent: usize,
    pub max_body_bytes: usize,
    pub max_result_rows: usize,
    pub max_result_bytes: usize,
    pub memory_limit: Option<usize>,
}

pub fn run(runtime: &tokio::runtime::Runtime, args: Args) -> CmdResult {
    let token = match &args.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::new(
                    EXIT_USAGE,
                    format!("cannot read --token-file {}: {e}", path.display()),
                )
            })?;
            let token = text.trim().to_string();
            if token.len() < 16 {
                return Err(Failure::new(
                    EXIT_USAGE,
                    format!(
                        "the token in {} is shorter than 16 characters",
                        path.display()
                    ),
                ));
            }
            Some(token)
        }
        None => None,
    };
    if serve::needs_token(&args.listen) && token.is_none() {
        return Err(Failure::new(
            EXIT_USAGE,
            format!(
                "refusing to listen on {} without --token-file: only loopback addresses may serve without a token",
                args.listen
            ),
        ));
    }
    let fixed_now = match std::env::var_os("OMSLAKE_NOW") {
        Some(_) => Some(search_cmd::now_micros()?),
        None => None,
    };
    let mut engine = EngineOptions::default();
    if let Some(limit) = args.memory_limit {
        engine.memory_limit = limit;
    }
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| Failure::new(EXIT_USAGE, format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::new(EXIT_USAGE, format!("cannot listen on {}: {e}", args.listen)))?;
    let scheme = if args.tls.is_some() { "https" } else { "http" };
    eprintln!(
        "omslake serve: {} on {scheme}://{addr}/v1 ({}; GET / describes the API)",
        args.store.display(),
        if token.is_some() {
            "bearer token required"
        } else {
            "no token: loopback only"
        }
    );
    let queries = tokio::runtime::Builder::new_multi_thread()
        .thread_name("omslake-query")
        .thread_stack_size(64 << 20)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(EXIT_USAGE, format!("cannot start the query threads: {e}")))?;
    let options = ServeOptions {
        store: args.store,
        token,
        max_body_bytes: args.max_body_bytes,
        query_timeout: args.query_timeout,
        max_result_rows: args.max_result_rows,
        max_result_bytes: args.max_result_bytes,
        max_concurrent: args.max_concurrent,
        queue_wait: (args.query_timeout / 2).max(Duration::from_millis(1)),
        engine,
        fixed_now,
        query_runtime: queries.handle().clone(),
    };
    runtime
        .block_on(serve::run(listener, args.tls, options))
        .map_err(|e| Failure::new(EXIT_USAGE, format!("serve: {e}")))?;
    queries.shutdown_timeout(Duration::from_secs(1));
    eprintln!("omslake serve: stopped");
    Ok(0)
}
