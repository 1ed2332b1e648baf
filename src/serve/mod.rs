//! `omslake serve`: the Log Analytics query API over the store, so that the clients people
//! already use (`azure-monitor-query`, the REST shape of the other SDKs) get answers from it.
//!
//! Safe by default: loopback unless told otherwise, a bearer token required for any other
//! address, read-only like `omslake sql`, and every request bounded (body, query time, result
//! rows and bytes, queries at once). Each query reads one committed snapshot without the
//! writer lock; the engine (plans, caches, memory pool) stays warm between requests and is
//! reopened when a new commit lands.

pub mod api;
pub mod timespan;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{Mutex, Semaphore};

use crate::query::{Engine, EngineOptions, QueryError};
use crate::search::{self, Options};
use crate::store::Store;
use api::{ApiError, TableBuilder};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub store: PathBuf,
    pub token: Option<String>,
    pub max_body_bytes: usize,
    pub query_timeout: Duration,
    pub max_result_rows: usize,
    pub max_result_bytes: usize,
    pub max_concurrent: usize,
    /// How long a request waits for a free query slot before a 429.
    pub queue_wait: Duration,
    pub engine: EngineOptions,
    /// `NOW` for searches and durations: `$OMSLAKE_NOW` when set (tests), else the clock.
    pub fixed_now: Option<i64>,
    /// Where queries run: a runtime of their own, so that a busy query never delays the
    /// server's answering of other requests (a 429, a health check).
    pub query_runtime: tokio::runtime::Handle,
}

struct Shared {
    options: ServeOptions,
    store: Store,
    /// The engine and the store version it reads; reopened when the store moves on.
    engine: Mutex<Option<(u64, Arc<Engine>)>>,
    slots: Semaphore,
}

/// Whether a listen address may serve without a token (loopback only).
pub fn needs_token(addr: &SocketAddr) -> bool {
    !addr.ip().is_loopback()
}

pub fn router(options: ServeOptions) -> Router {
    let slots = Semaphore::new(options.max_concurrent.max(1));
    let shared = Arc::new(Shared {
        store: Store::open(&options.store),
        options,
        engine: Mutex::new(None),
        slots,
    });
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/v1/workspaces/{workspace}/query", post(query))
        .route("/v1/$batch", post(batch))
        .fallback(not_found)
        .with_state(shared)
}

async fn index() -> impl IntoResponse {
    (
        [("content-type", "text/html; charset=utf-8")],
        include_str!("index.html"),
    )
}

async fn not_found(method: Method, uri: Uri) -> Response {
    log_line(method.as_str(), uri.path(), 404, 0, Instant::now());
    let e = ApiError::new(
        404,
        "PathNotFoundError",
        format!("{method} {} is not an endpoint: use POST /v1/workspaces/<any id>/query or POST /v1/$batch (see GET /)", uri.path()),
    );
    error_response(&e)
}

fn error_response(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(e.body())).into_response()
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &shared.options.token else {
        return Ok(());
    };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or("");
    match api::same_token(given.trim().as_bytes(), token.as_bytes()) {
        true => Ok(()),
        false => Err(ApiError::new(
            401,
            "AuthorizationRequiredError",
            "a valid bearer token is required (the one in the server's --token-file)",
        )),
    }
}

fn now_micros(shared: &Shared) -> i64 {
    shared
        .options
        .fixed_now
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros())
}

/// The engine over the latest commit, reopened only when a commit has landed since.
async fn engine(shared: &Shared) -> Result<Arc<Engine>, ApiError> {
    let latest = crate::store::log::versions(shared.store.root())
        .map_err(|e| ApiError::new(500, "InternalServerError", e.to_string()))?
        .last()
        .copied()
        .unwrap_or(0);
    let mut slot = shared.engine.lock().await;
    if let Some((version, engine)) = slot.as_ref() {
        if *version == latest {
            return Ok(engine.clone());
        }
    }
    let engine = Arc::new(
        Engine::open_with(&shared.store, &shared.options.engine)
            .map_err(|e| ApiError::new(500, "InternalServerError", e.to_string()))?,
    );
    // Keep it only if every table's Delta log has reached the commit (a writer between the
    // journal and the Delta logs): else read it again next time.
    if engine.snapshot().version >= latest {
        *slot = Some((latest, engine.clone()));
    }
    Ok(engine)
}

/// Run one query body; the answer, or an API error.
async fn run_query(shared: &Shared, body: &Value) -> Result<(Value, usize), ApiError> {
    let body: api::QueryBody = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::bad_request(format!("the body is not a query request: {e}")))?;
    let text = body
        .query
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("the body has no \"query\""))?;
    let now = now_micros(shared);
    let sql = match api::is_sql(&text) {
        true => text.clone(),
        false => {
            let options = Options {
                now_micros: now,
                case_sensitive: false,
                dialect: Default::default(),
            };
            search::translate(&text, &options, false)
                .map_err(|e| {
                    ApiError::bad_request(format!(
                        "search: {} at column {}",
                        e.message,
                        e.search[..e.position.min(e.search.len())].chars().count() + 1
                    ))
                })?
                .sql
        }
    };
    let mut engine = engine(shared).await?;
    if let Some(span) = body.timespan.as_deref().filter(|t| !t.trim().is_empty()) {
        let (start, end) = timespan::parse(span, now).map_err(ApiError::bad_request)?;
        engine = Arc::new(
            engine
                .with_time_range(start, end)
                .await
                .map_err(|e| ApiError::new(500, "InternalServerError", e.to_string()))?,
        );
    }
    let permit = tokio::time::timeout(shared.options.queue_wait, shared.slots.acquire())
        .await
        .map_err(|_| {
            ApiError::new(
                429,
                "TooManyRequests",
                format!(
                    "{} queries are running (--max-concurrent); try again shortly",
                    shared.options.max_concurrent
                ),
            )
        })?
        .map_err(|_| ApiError::new(503, "ServiceUnavailable", "the server is shutting down"))?;
    let limits = (
        shared.options.max_result_rows,
        shared.options.max_result_bytes,
    );
    let work = async move {
        let explain = |e: QueryError| engine.explain_error(e);
        let df = engine
            .sql(&sql)
            .await
            .map_err(|e| query_error(explain(e)))?;
        let mut stream = df
            .execute_stream()
            .await
            .map_err(|e| query_error(explain(QueryError::from(e))))?;
        let mut table = TableBuilder::new(stream.schema().as_ref(), limits.0, limits.1);
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| query_error(explain(QueryError::from(e))))?;
            table.push(&batch)?;
        }
        let rows = table.rows();
        Ok::<_, ApiError>((table.finish(), rows))
    };
    let mut task = shared.options.query_runtime.spawn(work);
    let result = tokio::time::timeout(shared.options.query_timeout, &mut task)
        .await
        .map_err(|_| {
            task.abort();
            ApiError::new(
                504,
                "GatewayTimeout",
                format!(
                    "the query ran longer than {} s (--query-timeout) and was stopped; narrow it: a timespan, a filter, fewer groups",
                    shared.options.query_timeout.as_secs_f64()
                ),
            )
        })?
        .map_err(|e| ApiError::new(500, "InternalServerError", format!("the query stopped: {e}")))?;
    drop(permit);
    result
}

fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::MemoryLimit { .. } => {
            ApiError::new(400, "QueryResourcesExhausted", e.to_string())
        }
        QueryError::Store(_) | QueryError::Output { .. } => {
            ApiError::new(500, "InternalServerError", e.to_string())
        }
        _ => ApiError::bad_request(format!("the query failed: {e}")),
    }
}

fn log_line(method: &str, path: &str, status: u16, rows: usize, started: Instant) {
    eprintln!(
        "{} {method} {path} {status} rows={rows} ms={:.1}",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        started.elapsed().as_secs_f64() * 1000.0
    );
}

fn parse_json(shared: &Shared, body: &Bytes) -> Result<Value, ApiError> {
    if body.len() > shared.options.max_body_bytes {
        return Err(ApiError::new(
            413,
            "PayloadTooLarge",
            format!(
                "the request body passes {} bytes (--max-body-kb)",
                shared.options.max_body_bytes
            ),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
}

async fn query(
    State(shared): State<Arc<Shared>>,
    UrlPath(workspace): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let path = format!("/v1/workspaces/{workspace}/query");
    let result = async {
        authorize(&shared, &headers)?;
        let body = parse_json(&shared, &body)?;
        run_query(&shared, &body).await
    }
    .await;
    match result {
        Ok((answer, rows)) => {
            log_line("POST", &path, 200, rows, started);
            (StatusCode::OK, axum::Json(answer)).into_response()
        }
        Err(e) => {
            log_line("POST", &path, e.status, 0, started);
            error_response(&e)
        }
    }
}

async fn batch(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = async {
        authorize(&shared, &headers)?;
        let body = parse_json(&shared, &body)?;
        let batch: api::BatchBody = serde_json::from_value(body)
            .map_err(|e| ApiError::bad_request(format!("the body is not a batch request: {e}")))?;
        let mut responses = Vec::new();
        let mut rows = 0;
        for r in batch.requests {
            let answer = match r.path.as_deref().unwrap_or("/query") {
                "/query" => run_query(&shared, &r.body).await,
                other => Err(ApiError::new(
                    404,
                    "PathNotFoundError",
                    format!("{other} is not a batch path: use /query"),
                )),
            };
            responses.push(match answer {
                Ok((body, n)) => {
                    rows += n;
                    json!({"id": r.id, "status": 200, "body": body})
                }
                Err(e) => json!({"id": r.id, "status": e.status, "body": e.body()}),
            });
        }
        Ok::<_, ApiError>((json!({"responses": responses}), rows))
    }
    .await;
    match result {
        Ok((answer, rows)) => {
            log_line("POST", "/v1/$batch", 200, rows, started);
            (StatusCode::OK, axum::Json(answer)).into_response()
        }
        Err(e) => {
            log_line("POST", "/v1/$batch", e.status, 0, started);
            error_response(&e)
        }
    }
}

/// Serve until SIGINT or SIGTERM, then let running queries finish (up to the query timeout)
/// and return.
pub async fn run(
    listener: std::net::TcpListener,
    tls: Option<(PathBuf, PathBuf)>,
    options: ServeOptions,
) -> std::io::Result<()> {
    let grace = options.query_timeout + Duration::from_secs(1);
    let app = router(options).into_make_service();
    let handle = axum_server::Handle::new();
    let signals = handle.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("omslake serve: stopping: no new connections, waiting for running queries");
        signals.graceful_shutdown(Some(grace));
    });
    match tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key).await?;
            axum_server::from_tcp_rustls(listener, config)?
                .handle(handle)
                .serve(app)
                .await
        }
        None => {
            axum_server::from_tcp(listener)?
                .handle(handle)
                .serve(app)
                .await
        }
    }
}
