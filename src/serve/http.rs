//! The read-only HTTP surface of `serve` (HTTP/1.1):
//!
//! ```text
//!  GET /healthz                         200 "ok" while serving and the database opens; 503 + reason
//!  GET /metrics                         Prometheus text format 0.0.4
//!  GET /reports/latest                  the latest signed run report (DSSE envelope, JSON)
//!  GET /reports/latest.md               the same report in Markdown
//!  GET /reports/period?since=30d[&format=html|md|json|csv|oscal|policyreport]
//!  HEAD on each of them; any other method 405; any other path 404
//! ```
//!
//! Every request opens the database on its own (a blocking task): SQLite in WAL mode lets readers
//! work while a run writes, and nothing here writes anything but what `open` itself does (marking
//! runs of a dead process incomplete).

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::exposition;
use super::metrics::{LastRun, ProcessCounters, Snapshot};
use super::reports::{self, PeriodFormat};
use super::{Job, RunSlot};
use crate::store::Store;

pub type Body = Full<Bytes>;

/// What the handlers share: the job (settings, key, database) and the run slot.
pub struct App {
    pub job: Arc<Job>,
    pub slot: Arc<RunSlot>,
}

impl App {
    pub async fn handle<B>(self: Arc<Self>, req: Request<B>) -> Response<Body> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
            response.headers_mut().insert(ALLOW, "GET, HEAD".parse().expect("a valid header value"));
            return response;
        }
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let app = Arc::clone(&self);
        // The store is blocking I/O; keep it off the threads that accept connections.
        tokio::task::spawn_blocking(move || app.route(&path, &query))
            .await
            .unwrap_or_else(|e| text(StatusCode::INTERNAL_SERVER_ERROR, &format!("handler failed: {e}\n")))
    }

    fn route(&self, path: &str, query: &str) -> Response<Body> {
        match path {
            "/healthz" => self.healthz(),
            "/metrics" => self.with_store(|store| {
                let snapshot = Snapshot::read(store, LastRun::Finished).map_err(internal)?;
                let process =
                    ProcessCounters { skipped_runs: self.slot.skipped(), run_in_progress: self.slot.busy() };
                Ok(body(
                    StatusCode::OK,
                    exposition::CONTENT_TYPE,
                    snapshot.render(Some(process)).into_bytes(),
                ))
            }),
            "/reports/latest" => {
                self.with_store(|store| match reports::latest_report(store).map_err(internal)? {
                    Some((_, envelope)) => Ok(body(StatusCode::OK, "application/json", envelope)),
                    None => Ok(text(StatusCode::NOT_FOUND, "no signed run report yet\n")),
                })
            }
            "/reports/latest.md" => {
                self.with_store(|store| match reports::latest_markdown(store).map_err(internal)? {
                    Some(md) => Ok(body(StatusCode::OK, "text/markdown; charset=utf-8", md.into_bytes())),
                    None => Ok(text(StatusCode::NOT_FOUND, "no signed run report yet\n")),
                })
            }
            "/reports/period" => self.period(query),
            _ => text(
                StatusCode::NOT_FOUND,
                "not found: try /healthz, /metrics, /reports/latest, /reports/latest.md, /reports/period?since=30d\n",
            ),
        }
    }

    fn healthz(&self) -> Response<Body> {
        match Store::open(&self.job.db).and_then(|s| s.schema_version()) {
            Ok(_) => text(StatusCode::OK, "ok\n"),
            Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, &format!("database: {e}\n")),
        }
    }

    fn period(&self, query: &str) -> Response<Body> {
        let params = match parse_query(query) {
            Ok(p) => p,
            Err(e) => return text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
        };
        let get = |name: &str| params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let until = chrono::Utc::now();
        let Some(since) = get("since") else {
            return text(StatusCode::BAD_REQUEST, "since: required (e.g. since=30d)\n");
        };
        let since = match reports::parse_since(since, until) {
            Ok(s) => s,
            Err(e) => return text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
        };
        let format = match PeriodFormat::parse(get("format").unwrap_or("md")) {
            Ok(f) => f,
            Err(e) => return text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
        };
        self.with_store(|store| {
            let report = reports::period_report(store, &self.job.keyring, &self.job.settings, since, until)
                .map_err(internal)?;
            let bytes = reports::render(&report, format, &self.job.key).map_err(internal)?;
            Ok(body(StatusCode::OK, format.content_type(), bytes))
        })
    }

    fn with_store(&self, f: impl FnOnce(&Store) -> Result<Response<Body>, Failure>) -> Response<Body> {
        match Store::open(&self.job.db) {
            Ok(store) => f(&store)
                .unwrap_or_else(|Failure(e)| text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n"))),
            Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, &format!("database: {e}\n")),
        }
    }
}

/// A request the store or a renderer could not answer: a 500 with the reason.
struct Failure(String);

fn internal(e: impl std::fmt::Display) -> Failure {
    tracing::error!(error = %e, "request failed");
    Failure(e.to_string())
}

fn text(status: StatusCode, message: &str) -> Response<Body> {
    body(status, "text/plain; charset=utf-8", message.as_bytes().to_vec())
}

fn body(status: StatusCode, content_type: &'static str, bytes: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type.parse().expect("a valid header value"));
    // Everything here changes with the next run; a cached copy would show stale evidence.
    headers.insert(CACHE_CONTROL, "no-store".parse().expect("a valid header value"));
    response
}

/// `a=1&b=x%20y` into pairs; `%XX` is decoded (a `+` stays a plus: it is part of RFC 3339 offsets).
fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(byte.ok_or_else(|| format!("bad percent-encoding in {text:?}"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_percent_decoded() {
        assert_eq!(
            parse_query("since=2026-11-01T00%3A00%3A00+01:00&format=md").unwrap(),
            vec![
                ("since".to_string(), "2026-11-01T00:00:00+01:00".to_string()),
                ("format".to_string(), "md".to_string())
            ]
        );
        assert!(parse_query("since=%zz").is_err());
        assert_eq!(parse_query("").unwrap(), vec![]);
    }
}
