//! Cooperative cancellation of CPU-heavy work.
//!
//! A request's work runs on the blocking pool, where a timed-out or abandoned request cannot
//! stop it by being dropped. The HTTP layer gives each request a [`CancelToken`] that is set
//! when the request future is dropped (timeout, closed connection); the blocking task runs the
//! work under [`run_with`], which makes the token the thread's current one, and long loops
//! (Dijkstra, joins, rasterisation, polygon validation) call [`cancelled`] every few thousand
//! iterations and stop early. Whoever runs work under a token must discard its result when the
//! token is set ([`CancelToken::is_cancelled`]): a loop that stopped early leaves it partial.
//!
//! Code run outside [`run_with`] (the importer, tests, benches) is never cancelled.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shared flag: set once, never cleared. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

/// The work was stopped because its request was abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request was abandoned before its work finished")]
pub struct Cancelled;

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks the work to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that cancels the token when dropped (unless [`CancelOnDrop::disarm`]ed).
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }
}

/// Cancels its token when dropped: held by the request future, so dropping the future (a
/// timeout, a closed connection) stops the work it started.
#[derive(Debug)]
pub struct CancelOnDrop(Option<CancelToken>);

impl CancelOnDrop {
    /// The request finished normally: dropping the guard no longer cancels.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.cancel();
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
}

/// Runs `f` with `token` as this thread's current token (restoring the previous one after).
pub fn run_with<T>(token: &CancelToken, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<CancelToken>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = prev);
        }
    }
    let prev = CURRENT.with(|c| c.borrow_mut().replace(token.clone()));
    let _restore = Restore(prev);
    f()
}

/// Whether the work running on this thread should stop (false outside [`run_with`]).
#[inline]
pub fn cancelled() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(CancelToken::is_cancelled))
}

/// `Err(Cancelled)` when the work running on this thread should stop.
#[inline]
pub fn check() -> Result<(), Cancelled> {
    if cancelled() { Err(Cancelled) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_reaches_the_thread_and_guard_cancels() {
        let t = CancelToken::new();
        assert!(!cancelled());
        run_with(&t, || {
            assert!(!cancelled());
            drop(t.cancel_on_drop());
            assert!(cancelled());
            assert_eq!(check(), Err(Cancelled));
        });
        assert!(
            !cancelled(),
            "the token is the current one only inside run_with"
        );
        let u = CancelToken::new();
        u.cancel_on_drop().disarm();
        assert!(!u.is_cancelled());
    }
}
