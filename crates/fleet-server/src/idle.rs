//! Closing connections that go idle: [`IdleAcceptor`] wraps each accepted connection (under
//! TLS, if any) in an [`IdleStream`], which fails the connection once nothing has been read or
//! written for the configured time. (A request header that does not arrive in time is hyper's
//! `header_read_timeout`, set in `server.rs`.)

use std::future::Future;
use std::io;
use std::pin::Pin;
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
    type Service = S;
    type Future = std::future::Ready<io::Result<(IdleStream<I>, S)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        std::future::ready(Ok((IdleStream::new(stream, self.timeout), service)))
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
}

impl<I> IdleStream<I> {
    fn new(inner: I, timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner,
            timeout,
            last: now,
            deadline: Box::pin(tokio::time::sleep_until(now + timeout)),
        }
    }

    /// Called when the inner stream is not ready: whether the connection has been idle too
    /// long (otherwise the timer is armed to wake the task when it will have).
    fn idle_too_long(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.deadline.as_mut().poll(cx).is_pending() {
                return false;
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
