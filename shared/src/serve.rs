//! The two front doors of every function binary: the Lambda runtime, or a plain HTTP server.
//!
//! [`Mode::from_env`] picks one, in this order:
//!
//! 1. `AWS_LAMBDA_RUNTIME_API` is set (by AWS Lambda and by `cargo lambda watch`): the caller runs
//!    the Lambda runtime.
//! 2. `FN_LISTENER=unix:/path` is set (by Fn): HTTP on that unix socket, following Fn's
//!    `http-stream` container contract (see [`FnSocket`]).
//! 3. Otherwise HTTP over TCP on `BIND_ADDR:PORT`, default `127.0.0.1:8080`, for OpenFaaS's
//!    of-watchdog in HTTP mode, Knative and local runs. Containers set `BIND_ADDR=0.0.0.0`.
//!
//! Both HTTP endpoints stop on SIGTERM or SIGINT: they stop accepting connections, finish the
//! requests in flight and return `Ok`, so the process exits 0.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};

/// TCP port of the HTTP server when `PORT` is unset.
pub const DEFAULT_PORT: u16 = 8080;

/// Address the HTTP server binds when `BIND_ADDR` is unset: loopback, so a local run is not
/// reachable from the network. Container images set `BIND_ADDR=0.0.0.0`.
pub const DEFAULT_BIND_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Longest unix socket path Linux accepts: `sun_path` is 108 bytes including the final NUL.
/// Fn's contract states the same limit.
const MAX_SOCKET_PATH_BYTES: usize = 107;

/// Error that stops a function before or while it serves HTTP.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid {name}={value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("{name} is not set: {reason}")]
    Missing {
        name: &'static str,
        reason: &'static str,
    },
    #[error("binding {endpoint} failed: {source}")]
    Bind { endpoint: String, source: io::Error },
    #[error("preparing the Fn socket {path} failed: {source}")]
    Socket { path: PathBuf, source: io::Error },
    #[error("installing the SIGTERM handler failed: {0}")]
    Signal(io::Error),
    #[error("HTTP server on {endpoint} failed: {source}")]
    Serve { endpoint: String, source: io::Error },
}

/// Front door of the process: the Lambda runtime or a plain HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The Lambda runtime API drives the process; the caller runs its Lambda runtime.
    Lambda,
    /// A plain HTTP server.
    Http(Endpoint),
}

/// Listening address of the plain HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// TCP, for OpenFaaS, Knative and local runs.
    Tcp(SocketAddr),
    /// The unix socket Fn names in `FN_LISTENER`.
    Fn(FnSocket),
}

/// The unix socket of Fn's `http-stream` contract.
///
/// Fn's agent watches the socket's folder and connects as soon as the `FN_LISTENER` path
/// appears, and it needs write permission on the socket. So the server binds a private socket
/// next to it, makes that socket mode 0666, and only then creates `FN_LISTENER` as a symlink to
/// it. The agent rejects a symlink whose target is outside the folder, so the target is the bare
/// file name. Both files are removed on shutdown.
///
/// NOTE: this follows Fn's container contract document and its agent's source (fnproject/fn);
/// it has not run under a real Fn server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FnSocket {
    /// Path named by `FN_LISTENER`, without the `unix:` prefix.
    pub path: PathBuf,
}

impl FnSocket {
    /// Returns the path of the private socket the `FN_LISTENER` symlink points to.
    pub fn private_path(&self) -> PathBuf {
        let name = self
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.path.with_file_name(format!("{name}.private"))
    }
}

impl Mode {
    /// Chooses the front door from the process environment.
    pub fn from_env() -> Result<Self, ServeError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Chooses the front door from variables given by `lookup`; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ServeError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        if var("AWS_LAMBDA_RUNTIME_API").is_some() {
            return Ok(Self::Lambda);
        }
        if let Some(socket) = fn_socket(var("FN_FORMAT"), var("FN_LISTENER"))? {
            return Ok(Self::Http(Endpoint::Fn(socket)));
        }
        let port = match var("PORT") {
            Some(text) => parse_port(&text)?,
            None => DEFAULT_PORT,
        };
        let address = match var("BIND_ADDR") {
            Some(text) => parse_bind_addr(&text)?,
            None => DEFAULT_BIND_ADDR,
        };
        Ok(Self::Http(Endpoint::Tcp(SocketAddr::new(address, port))))
    }
}

/// Reads Fn's variables. Fn's contract requires an FDK to exit with an error when
/// `FN_FORMAT=http-stream` comes without a `unix:` listener, and `http-stream` is the only
/// format this server speaks.
fn fn_socket(
    format: Option<String>,
    listener: Option<String>,
) -> Result<Option<FnSocket>, ServeError> {
    if let Some(format) = &format
        && format != "http-stream"
    {
        return Err(ServeError::Invalid {
            name: "FN_FORMAT",
            value: format.clone(),
            reason: "only http-stream is supported; set format: http-stream in func.yaml".into(),
        });
    }
    let Some(listener) = listener else {
        return match format {
            Some(_) => Err(ServeError::Missing {
                name: "FN_LISTENER",
                reason: "FN_FORMAT=http-stream needs a unix:/path listener",
            }),
            None => Ok(None),
        };
    };
    let invalid = |reason: &str| ServeError::Invalid {
        name: "FN_LISTENER",
        value: listener.clone(),
        reason: reason.into(),
    };
    let path = listener
        .strip_prefix("unix:")
        .ok_or_else(|| invalid("expected unix:/absolute/path"))?;
    if !path.starts_with('/') || path.ends_with('/') {
        return Err(invalid("expected unix:/absolute/path to a socket file"));
    }
    if path.len() > MAX_SOCKET_PATH_BYTES {
        return Err(invalid("socket paths are limited to 107 bytes"));
    }
    Ok(Some(FnSocket {
        path: PathBuf::from(path),
    }))
}

fn parse_port(text: &str) -> Result<u16, ServeError> {
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(ServeError::Invalid {
            name: "PORT",
            value: text.to_string(),
            reason: "expected a TCP port from 1 to 65535".into(),
        }),
    }
}

fn parse_bind_addr(text: &str) -> Result<IpAddr, ServeError> {
    text.trim().parse().map_err(|_| ServeError::Invalid {
        name: "BIND_ADDR",
        value: text.to_string(),
        reason: "expected an IP address such as 127.0.0.1 or 0.0.0.0".into(),
    })
}

impl Endpoint {
    /// Serves `router` until SIGTERM or SIGINT, then finishes the requests in flight.
    ///
    /// On the Fn socket, a request for `POST /call` without Fn's `Fn-Http-Request-Url` header (a
    /// direct `fn invoke`) goes to `invoke_path`.
    pub async fn serve(self, router: Router, invoke_path: &'static str) -> Result<(), ServeError> {
        let shutdown = shutdown_signal()?;
        self.serve_until(router, invoke_path, shutdown).await
    }

    /// Serves `router` until `shutdown` completes.
    pub async fn serve_until(
        self,
        router: Router,
        invoke_path: &'static str,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        match self {
            Self::Tcp(address) => serve_tcp(router, address, shutdown).await,
            Self::Fn(socket) => serve_fn(router, &socket, invoke_path, shutdown).await,
        }
    }
}

/// Returns a future that completes on the first SIGTERM or SIGINT. The handlers are installed
/// before it returns, so a signal that arrives during start-up is not lost.
fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, ServeError> {
    let mut terminate = signal(SignalKind::terminate()).map_err(ServeError::Signal)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServeError::Signal)?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        info!(signal = name, "shutting down: finishing requests in flight");
    })
}

async fn serve_tcp(
    router: Router,
    address: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let endpoint = address.to_string();
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| ServeError::Bind {
            endpoint: endpoint.clone(),
            source,
        })?;
    let bound = listener
        .local_addr()
        .map_or(endpoint.clone(), |a| a.to_string());
    info!(address = %bound, "HTTP server listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServeError::Serve { endpoint, source })?;
    info!(address = %bound, "HTTP server stopped");
    Ok(())
}

async fn serve_fn(
    router: Router,
    socket: &FnSocket,
    invoke_path: &'static str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = bind_fn_socket(socket)?;
    info!(listener = %socket.path.display(), "HTTP server listening on the Fn socket");
    // The gateway wraps the whole router, so it rewrites `/call` before routing. A layer added
    // with `Router::layer` would run after routing, too late to change the path.
    let app = Router::new()
        .fallback_service(router)
        .layer(middleware::from_fn_with_state(invoke_path, fn_gateway));
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    remove_fn_socket(socket);
    result.map_err(|source| ServeError::Serve {
        endpoint: socket.path.display().to_string(),
        source,
    })?;
    info!(listener = %socket.path.display(), "HTTP server stopped");
    Ok(())
}

/// Binds the private socket, opens it to the agent, then publishes it under `FN_LISTENER`.
fn bind_fn_socket(socket: &FnSocket) -> Result<UnixListener, ServeError> {
    let private = socket.private_path();
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ServeError::Socket { path, source }
    };
    // Files left by an earlier run of this container would make bind and symlink fail.
    remove_if_present(&socket.path).map_err(failed(&socket.path))?;
    remove_if_present(&private).map_err(failed(&private))?;
    let listener = UnixListener::bind(&private).map_err(|source| ServeError::Bind {
        endpoint: private.display().to_string(),
        source,
    })?;
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o666))
        .map_err(failed(&private))?;
    let target = private.file_name().unwrap_or_default();
    std::os::unix::fs::symlink(target, &socket.path).map_err(failed(&socket.path))?;
    Ok(listener)
}

fn remove_fn_socket(socket: &FnSocket) {
    for path in [socket.path.clone(), socket.private_path()] {
        if let Err(error) = remove_if_present(&path) {
            warn!(path = %path.display(), %error, "removing the Fn socket failed");
        }
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Prefix Fn's HTTP gateway protocol puts before every header of the original HTTP request and
/// expects before every header of the response.
const FN_HTTP_HEADER_PREFIX: &str = "fn-http-h-";

/// Connection and framing headers. They belong to one HTTP hop, so the gateway neither unwraps
/// them from `Fn-Http-H-*` nor wraps them.
const FRAMING_HEADERS: [HeaderName; 4] = [
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::HOST,
    header::TRANSFER_ENCODING,
];

/// Translates Fn's invoke protocol to the function's own routes and back.
///
/// Fn's agent sends every call as `POST /call`. A call from an HTTP trigger carries the original
/// request in `Fn-Http-Method`, `Fn-Http-Request-Url` and `Fn-Http-H-<header>` headers, with
/// `Fn-Intent: httprequest`. The agent accepts only the statuses 200, 502 and 504 and stops the
/// container on any other, so the handler's status goes back in `Fn-Http-Status` with 200.
/// Requests for other paths pass through unchanged.
async fn fn_gateway(
    State(invoke_path): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() != "/call" {
        return next.run(request).await;
    }
    let http_intent = request
        .headers()
        .get("fn-intent")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"httprequest"));
    let request = unwrap_fn_request(request, invoke_path);
    let response = next.run(request).await;
    wrap_fn_response(response, http_intent)
}

/// Rebuilds the original HTTP request from an Fn call.
pub fn unwrap_fn_request(request: Request, invoke_path: &str) -> Request {
    let (mut parts, body) = request.into_parts();
    let method = parts
        .headers
        .get("fn-http-method")
        .and_then(|v| Method::from_bytes(v.as_bytes()).ok())
        .unwrap_or(Method::POST);
    let uri = parts
        .headers
        .get("fn-http-request-url")
        .and_then(|v| v.to_str().ok())
        .and_then(|url| url.parse::<Uri>().ok())
        .map(|url| trigger_path(&url))
        .unwrap_or_else(|| invoke_path.to_string());
    parts.method = method;
    parts.uri = uri.parse().unwrap_or_else(|_| Uri::from_static("/"));
    parts.headers = unwrap_headers(&parts.headers);
    Request::from_parts(parts, body)
}

/// Returns the path and query of a trigger URL without Fn's `/t/<app>` prefix, so a trigger
/// with source `/uploads` reaches the route `/uploads`.
fn trigger_path(url: &Uri) -> String {
    let path_and_query = url.path_and_query().map_or("/", |p| p.as_str());
    let Some(rest) = path_and_query.strip_prefix("/t/") else {
        return path_and_query.to_string();
    };
    match rest.find(['/', '?']) {
        Some(index) if rest[index..].starts_with('/') => rest[index..].to_string(),
        Some(index) => format!("/{}", &rest[index..]),
        None => "/".to_string(),
    }
}

fn unwrap_headers(headers: &HeaderMap) -> HeaderMap {
    let mut unwrapped = HeaderMap::new();
    for (name, value) in headers {
        let text = name.as_str();
        if let Some(original) = text.strip_prefix(FN_HTTP_HEADER_PREFIX) {
            if let Ok(original) = HeaderName::from_bytes(original.as_bytes())
                && !FRAMING_HEADERS.contains(&original)
            {
                unwrapped.append(original, value.clone());
            }
        } else if text != "fn-http-method" && text != "fn-http-request-url" {
            unwrapped.append(name.clone(), value.clone());
        }
    }
    unwrapped
}

/// Wraps a response for Fn's agent: status 200 with the real status in `Fn-Http-Status`. For
/// trigger calls every header but `Content-Type`, `Fn-*` and framing headers is renamed to
/// `Fn-Http-H-<header>`.
pub fn wrap_fn_response(response: Response, http_intent: bool) -> Response {
    let (mut parts, body) = response.into_parts();
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        let keep = !http_intent
            || name == header::CONTENT_TYPE
            || name.as_str().starts_with("fn-")
            || FRAMING_HEADERS.contains(name);
        if keep {
            headers.append(name.clone(), value.clone());
            continue;
        }
        let wrapped = format!("{FN_HTTP_HEADER_PREFIX}{name}");
        if let Ok(wrapped) = HeaderName::from_bytes(wrapped.as_bytes()) {
            headers.append(wrapped, value.clone());
        }
    }
    headers.insert("fn-http-status", HeaderValue::from(parts.status.as_u16()));
    parts.status = StatusCode::OK;
    parts.headers = headers;
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::body::Body;
    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn mode(vars: &[(&str, &str)]) -> Result<Mode, ServeError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Mode::from_lookup(|name| vars.get(name).cloned())
    }

    fn tcp(address: &str) -> Mode {
        Mode::Http(Endpoint::Tcp(address.parse().unwrap()))
    }

    #[test]
    fn mode_defaults_to_loopback_8080() {
        assert_eq!(mode(&[]).unwrap(), tcp("127.0.0.1:8080"));
    }

    #[test]
    fn mode_prefers_lambda_runtime() {
        let vars = [
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("FN_LISTENER", "unix:/tmp/iofs/lsnr.sock"),
            ("PORT", "9999"),
        ];
        assert_eq!(mode(&vars).unwrap(), Mode::Lambda);
    }

    #[test]
    fn mode_ignores_empty_values() {
        let vars = [("AWS_LAMBDA_RUNTIME_API", ""), ("PORT", " ")];
        assert_eq!(mode(&vars).unwrap(), tcp("127.0.0.1:8080"));
    }

    #[test]
    fn mode_reads_port_and_bind_addr() {
        let vars = [("PORT", "8082"), ("BIND_ADDR", "0.0.0.0")];
        assert_eq!(mode(&vars).unwrap(), tcp("0.0.0.0:8082"));
        let ipv6 = [("BIND_ADDR", "::1")];
        assert_eq!(mode(&ipv6).unwrap(), tcp("[::1]:8080"));
    }

    #[test]
    fn mode_rejects_invalid_port() {
        for port in ["0", "65536", "http", "-1"] {
            let error = mode(&[("PORT", port)]).unwrap_err().to_string();
            assert!(error.starts_with("invalid PORT="), "{error}");
        }
    }

    #[test]
    fn mode_rejects_invalid_bind_addr() {
        let error = mode(&[("BIND_ADDR", "localhost")]).unwrap_err().to_string();
        assert!(
            error.starts_with("invalid BIND_ADDR=\"localhost\""),
            "{error}"
        );
    }

    #[test]
    fn fn_listener_selects_the_unix_socket() {
        let vars = [
            ("FN_FORMAT", "http-stream"),
            ("FN_LISTENER", "unix:/tmp/iofs/lsnr.sock"),
            ("PORT", "9999"),
        ];
        let expected = FnSocket {
            path: PathBuf::from("/tmp/iofs/lsnr.sock"),
        };
        assert_eq!(
            mode(&vars).unwrap(),
            Mode::Http(Endpoint::Fn(expected.clone()))
        );
        assert_eq!(
            expected.private_path(),
            PathBuf::from("/tmp/iofs/lsnr.sock.private")
        );
    }

    #[test]
    fn fn_listener_without_format_is_accepted() {
        let vars = [("FN_LISTENER", "unix:/tmp/iofs/lsnr.sock")];
        assert!(matches!(mode(&vars).unwrap(), Mode::Http(Endpoint::Fn(_))));
    }

    #[test]
    fn fn_variables_are_checked() {
        let cases: [&[(&str, &str)]; 5] = [
            &[("FN_FORMAT", "json")],
            &[("FN_FORMAT", "http-stream")],
            &[("FN_LISTENER", "/tmp/iofs/lsnr.sock")],
            &[("FN_LISTENER", "unix:relative.sock")],
            &[("FN_LISTENER", "unix:/tmp/iofs/")],
        ];
        for vars in cases {
            let result = mode(vars);
            assert!(result.is_err(), "{vars:?} gave {result:?}");
        }
    }

    #[test]
    fn fn_listener_path_is_limited_to_107_bytes() {
        let longest = format!("unix:/{}", "a".repeat(106));
        let too_long = format!("unix:/{}", "a".repeat(107));
        assert!(mode(&[("FN_LISTENER", &longest)]).is_ok());
        let error = mode(&[("FN_LISTENER", &too_long)]).unwrap_err().to_string();
        assert!(error.contains("107 bytes"), "{error}");
    }

    fn fn_call(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method("POST").uri("/call");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn trigger_call_becomes_original_request() {
        let call = fn_call(&[
            ("Fn-Call-Id", "01CALL"),
            ("Fn-Intent", "httprequest"),
            ("Fn-Http-Method", "GET"),
            (
                "Fn-Http-Request-Url",
                "http://fn.example:8080/t/filestore/uploads/abc?full=1",
            ),
            ("Fn-Http-H-Authorization", "Bearer secret"),
            ("Fn-Http-H-Content-Length", "999"),
            ("Content-Type", "application/json"),
        ]);

        let request = unwrap_fn_request(call, "/uploads");

        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri(), "/uploads/abc?full=1");
        let headers = request.headers();
        assert_eq!(headers["authorization"], "Bearer secret");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["fn-call-id"], "01CALL");
        assert!(headers.get("content-length").is_none());
        assert!(headers.get("fn-http-h-authorization").is_none());
        assert!(headers.get("fn-http-method").is_none());
        assert!(headers.get("fn-http-request-url").is_none());
    }

    #[test]
    fn direct_invoke_goes_to_invoke_path() {
        let request = unwrap_fn_request(fn_call(&[("Fn-Call-Id", "01CALL")]), "/uploads");
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "/uploads");
    }

    #[test]
    fn trigger_path_strips_app_prefix() {
        let cases = [
            ("http://h/t/app/uploads", "/uploads"),
            ("http://h/t/app", "/"),
            ("http://h/t/app?x=1", "/?x=1"),
            ("http://h/t/app/", "/"),
            ("http://h/webhook", "/webhook"),
            ("/verdicts", "/verdicts"),
        ];
        for (url, expected) in cases {
            assert_eq!(trigger_path(&url.parse().unwrap()), expected, "{url}");
        }
    }

    #[test]
    fn trigger_response_is_wrapped() {
        let response = Response::builder()
            .status(StatusCode::CREATED)
            .header("content-type", "application/json")
            .header("location", "/uploads/abc")
            .body(Body::empty())
            .unwrap();

        let wrapped = wrap_fn_response(response, true);

        assert_eq!(wrapped.status(), StatusCode::OK);
        let headers = wrapped.headers();
        assert_eq!(headers["fn-http-status"], "201");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["fn-http-h-location"], "/uploads/abc");
        assert!(headers.get("location").is_none());
    }

    #[test]
    fn direct_invoke_response_keeps_headers() {
        let response = Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Bearer")
            .body(Body::empty())
            .unwrap();

        let wrapped = wrap_fn_response(response, false);

        assert_eq!(wrapped.status(), StatusCode::OK);
        assert_eq!(wrapped.headers()["fn-http-status"], "401");
        assert_eq!(wrapped.headers()["www-authenticate"], "Bearer");
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("filestore-serve-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Sends one HTTP/1.1 request over a unix socket and returns the raw response.
    async fn exchange(path: &Path, request: &str) -> String {
        let mut stream = tokio::net::UnixStream::connect(path).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8(response).unwrap()
    }

    #[tokio::test]
    async fn fn_socket_serves_calls_and_cleans_up() {
        let dir = scratch_dir("fn");
        let socket = FnSocket {
            path: dir.join("lsnr.sock"),
        };
        let router = Router::new()
            .route("/uploads", post(|| async { (StatusCode::CREATED, "made") }))
            .route("/healthz", get(|| async { "ok" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(Endpoint::Fn(socket.clone()).serve_until(
            router,
            "/uploads",
            async move {
                let _ = stopped.await;
            },
        ));
        for _ in 0..100 {
            if socket.path.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }

        let link = std::fs::read_link(&socket.path).unwrap();
        let mode = std::fs::metadata(socket.private_path())
            .unwrap()
            .permissions()
            .mode();
        let call = "POST /call HTTP/1.1\r\nHost: localhost\r\nFn-Call-Id: 01CALL\r\n\
                    Fn-Intent: httprequest\r\nFn-Http-Method: POST\r\n\
                    Fn-Http-Request-Url: http://fn/t/app/uploads\r\n\
                    Content-Length: 0\r\nConnection: close\r\n\r\n";
        let response = exchange(&socket.path, call).await;
        let health = exchange(
            &socket.path,
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await;
        stop.send(()).unwrap();
        let result = server.await.unwrap();

        assert_eq!(link, PathBuf::from("lsnr.sock.private"));
        assert_eq!(mode & 0o777, 0o666);
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.contains("fn-http-status: 201\r\n"), "{response}");
        assert!(response.ends_with("made"), "{response}");
        assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
        assert!(health.ends_with("ok"), "{health}");
        assert!(result.is_ok(), "{result:?}");
        assert!(!socket.path.exists());
        assert!(!socket.private_path().exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn tcp_endpoint_stops_on_shutdown() {
        let router = Router::new().route("/healthz", get(|| async { "ok" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // serve_until binds the address itself and does not return it, so the test picks a free
        // port first.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = probe.local_addr().unwrap();
        drop(probe);
        let server = tokio::spawn(Endpoint::Tcp(address).serve_until(router, "/", async move {
            let _ = stopped.await;
        }));
        let mut stream = None;
        for _ in 0..100 {
            match tokio::net::TcpStream::connect(address).await {
                Ok(connected) => {
                    stream = Some(connected);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        let mut stream = stream.expect("server did not start listening");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        stop.send(()).unwrap();

        let result = server.await.unwrap();

        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(result.is_ok(), "{result:?}");
    }
}
