//! The accept loop: HTTP/1.1 connections served by hyper with a header-read timeout (which also
//! closes idle keep-alive connections) and a cap on open connections.
//!
//! axum's own `serve` has neither: half-sent or idle connections stayed open until the process
//! ran out of file descriptors and `/health` stopped answering. Here:
//! - each connection holds a permit of a semaphore of `limits.max_connections`; one more is
//!   answered `503` (problem+json, `Retry-After`) and closed at once, and a flood of them is
//!   dropped without an answer once 256 refusals are being written;
//! - hyper closes a connection that has not sent a complete request head within
//!   `limits.header_read_timeout_ms` of its opening or of its previous answer;
//! - an accept error (`EMFILE` and the like) pauses the loop briefly instead of spinning.
//!
//! [`serve_switch`] serves an [`AppSwitch`] on a listener bound beforehand: `terriens serve`
//! binds first, answers 503 while it loads, then publishes the full router.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::loading::AppSwitch;
use super::{AppState, Limits, router, shutdown_signal};

/// Refusals being written at once; beyond, an excess connection is closed without an answer.
const MAX_REFUSALS: usize = 256;

/// What every connection task needs.
#[derive(Clone)]
struct Conns {
    app: AppSwitch,
    slots: Arc<Semaphore>,
    refusals: Arc<Semaphore>,
    limits: Arc<Limits>,
    stop: watch::Receiver<bool>,
}

/// Serves until Ctrl-C or SIGTERM, then drains requests in flight for at most `grace`.
pub async fn serve(state: AppState, addr: SocketAddr, grace: Duration) -> std::io::Result<()> {
    let listener = bind(addr).await?;
    let limits = state.limits.clone();
    let app = AppSwitch::ready_with(router(state));
    serve_switch(listener, limits, app, grace).await
}

/// Binds the listener (and logs its address).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    Ok(listener)
}

/// Serves the router of the moment of `app` on a bound listener until Ctrl-C or SIGTERM, then
/// drains requests in flight for at most `grace`.
pub async fn serve_switch(
    listener: TcpListener,
    limits: Arc<Limits>,
    app: AppSwitch,
    grace: Duration,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let (stop_tx, stop_rx) = watch::channel(false);
    let conns = Conns {
        limits,
        app,
        slots: Arc::new(Semaphore::new(max)),
        refusals: Arc::new(Semaphore::new(MAX_REFUSALS)),
        stop: stop_rx,
    };
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => admit(tcp, &conns),
                Err(e) => {
                    tracing::warn!(error = %e, "accept error; pausing accepts for 50 ms");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection gives its permit back when it closes.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, conns.slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            grace_s = grace.as_secs(),
            "requests still in flight after the grace period; closing"
        );
    }
    Ok(())
}

/// Serves a new connection, or refuses it when `max_connections` are open.
fn admit(tcp: TcpStream, conns: &Conns) {
    match conns.slots.clone().try_acquire_owned() {
        Ok(permit) => {
            tokio::spawn(connection(tcp, conns.clone(), permit));
        }
        Err(_) => {
            if let Ok(permit) = conns.refusals.clone().try_acquire_owned() {
                let limits = conns.limits.clone();
                tokio::spawn(async move {
                    refuse(tcp, &limits).await;
                    drop(permit);
                });
            }
        }
    }
}

/// One HTTP/1.1 connection, until it closes or the server stops (then gracefully).
async fn connection(tcp: TcpStream, conns: Conns, permit: OwnedSemaphorePermit) {
    let _ = tcp.set_nodelay(true);
    let service = TowerToHyperService::new(conns.app.clone());
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(
            conns.limits.header_read_timeout_ms.max(1),
        ))
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(conn);
    let mut stop = conns.stop.clone();
    let stopping = tokio::select! {
        r = conn.as_mut() => {
            log_end(r);
            false
        }
        _ = stop.wait_for(|s| *s) => true,
    };
    if stopping {
        conn.as_mut().graceful_shutdown();
        log_end(conn.await);
    }
    drop(permit);
}

fn log_end(r: Result<(), hyper::Error>) {
    if let Err(e) = r {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Answers 503 with Retry-After and closes; reads (and drops) what the client sent first for
/// at most a second, so closing does not reset the connection before the answer is read.
async fn refuse(mut tcp: TcpStream, limits: &Limits) {
    let body = format!(
        r#"{{"type":"https://terriens.dev/problems/too-many-connections","title":"Too many connections","status":503,"detail":"the server has its limit of {} connections open; retry later"}}"#,
        limits.max_connections
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        limits.retry_after_s.max(1),
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 4096];
        while tcp.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// Raises the soft limit of open files to the hard one (Unix): the connection cap, not the
/// default soft limit (often 1,024), is what bounds connections. Returns (old, new) soft limits.
#[cfg(unix)]
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let old = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((old, lim.rlim_cur))
}

#[cfg(not(unix))]
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    Ok((0, 0))
}
