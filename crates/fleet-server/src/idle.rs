//! Closing connections that go idle: [`IdleAcceptor`] wraps each accepted connection (under
//! TLS, if any) in an [`IdleStream`], which fails the connection once nothing has been read or
//! written for the configured time, unless a request on it is waiting for a device. (A request
//! header that does not arrive in time is hyper's `header_read_timeout`, set in `server.rs`.)
//!
//! A direct method waits for its device's answer (up to 300 virtual seconds of response
//! timeout and 300 of connect timeout: minutes of wall time at a low time scale) with nothing to
//! read or write; that is not idleness. The connection's service is wrapped in [`Busy`], which
//! gives each request the connection's [`ConnectionWaits`]; the stream does not time out while
//! a request holds a [`Waiting`] from it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Wraps accepted connections in [`IdleStream`]s.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdleAcceptor {
    pub(crate) timeout: Duration,
}

impl<I, S> axum_server::accept::Accept<I, S> for IdleAcceptor
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    type Stream = IdleStream<I>;
    type Service = Busy<S>;
    type Future = std::future::Ready<io::Result<(IdleStream<I>, Busy<S>)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let busy = Arc::new(AtomicUsize::new(0));
        let stream = IdleStream::new(stream, self.timeout, busy.clone());
        std::future::ready(Ok((
            stream,
            Busy {
                inner: service,
                busy,
            },
        )))
    }
}

/// A connection's service: it puts the connection's [`ConnectionWaits`] into each request's
/// extensions.
#[derive(Debug, Clone)]
pub(crate) struct Busy<S> {
    inner: S,
    busy: Arc<AtomicUsize>,
}

impl<S, B> tower_service::Service<axum::http::Request<B>> for Busy<S>
where
    S: tower_service::Service<axum::http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: axum::http::Request<B>) -> Self::Future {
        request
            .extensions_mut()
            .insert(ConnectionWaits(self.busy.clone()));
        self.inner.call(request)
    }
}

/// The count of a connection's requests waiting for an answer that takes time (a direct
/// method's device answer), in each request's extensions. A handler that waits so holds a
/// [`Waiting`] from [`ConnectionWaits::hold`]; the connection is not idle meanwhile. (A
/// request whose body does not come is idle: that is what the timeout is for.)
#[derive(Debug, Clone)]
pub(crate) struct ConnectionWaits(Arc<AtomicUsize>);

impl ConnectionWaits {
    /// Counts one wait until the guard is dropped.
    pub(crate) fn hold(&self) -> Waiting {
        self.0.fetch_add(1, Ordering::SeqCst);
        Waiting(self.0.clone())
    }
}

/// One wait of [`ConnectionWaits`], while it lives.
pub(crate) struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection that fails with `TimedOut` when it is waited on after `timeout` without a
/// byte read or written.
pub(crate) struct IdleStream<I> {
    inner: I,
    timeout: Duration,
    /// The last read or write.
    last: Instant,
    /// Armed at `last + timeout` (or earlier: it is re-armed when it fires early).
    deadline: Pin<Box<Sleep>>,
    /// The requests on this connection waiting for a device (see [`ConnectionWaits`]).
    busy: Arc<AtomicUsize>,
}

impl<I> IdleStream<I> {
    fn new(inner: I, timeout: Duration, busy: Arc<AtomicUsize>) -> Self {
        let now = Instant::now();
        Self {
            inner,
            timeout,
            last: now,
            deadline: Box::pin(tokio::time::sleep_until(now + timeout)),
            busy,
        }
    }

    /// Called when the inner stream is not ready: whether the connection has been idle too
    /// long (otherwise the timer is armed to wake the task when it will have).
    fn idle_too_long(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.deadline.as_mut().poll(cx).is_pending() {
                return false;
            }
            if self.busy.load(Ordering::SeqCst) > 0 {
                self.last = Instant::now(); // a request waits for a device: not idle
            }
            let due = self.last + self.timeout;
            if Instant::now() >= due {
                return true;
            }
            self.deadline.as_mut().reset(due);
        }
    }

    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        if self.idle_too_long(cx) {
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection was idle too long",
            )))
        } else {
            Poll::Pending
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for IdleStream<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.last = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => this.pending(cx),
            ready => ready,
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for IdleStream<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.last = Instant::now();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => this.pending(cx),
            ready => ready,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.last = Instant::now();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => this.pending(cx),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.pending(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
