//! Running independent simulations on every core with results in index order: the machinery
//! that replications, plan sweeps and `fleetsim check` share.
//!
//! Item `i` is computed by `f(i)` on whichever worker takes it and stored in slot `i`; the
//! results are read back in index order. Which thread ran which item, and in which order they
//! finished, therefore cannot change anything a caller derives from the results: determinism
//! across thread counts holds as long as `f(i)` depends only on `i`.
//!
//! Cost: one atomic increment and one uncontended mutex per item; memory O(n) slots.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use crate::error::{Error, ErrorKind, Result};

/// Computes `f(0) .. f(n - 1)` on `threads` threads (at least 1) and returns the results in
/// index order. `progress(done)` is called from the calling thread as items finish. The first
/// error stops the workers from taking new items and is returned (the lowest-index error
/// among those computed).
pub(crate) fn map_indexed<T: Send>(
    n: usize,
    threads: usize,
    f: &(dyn Fn(usize) -> Result<T> + Sync),
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<T>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<T>>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let (finished_tx, finished_rx) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1).min(n) {
            let finished_tx = finished_tx.clone();
            let (next, failed, slots) = (&next, &failed, &slots);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || failed.load(Ordering::Relaxed) {
                    return;
                }
                let out = f(i);
                failed.fetch_or(out.is_err(), Ordering::Relaxed);
                *slots[i].lock().expect("no worker panics") = Some(out);
                // The receiver lives until every worker has returned.
                let _ = finished_tx.send(());
            });
        }
        drop(finished_tx);
        // The calling thread only reports progress: one message per finished item, and the
        // channel closes when every worker has returned.
        for done in 1..=n as u64 {
            if finished_rx.recv().is_err() {
                break;
            }
            progress(done);
        }
    });
    let mut out = Vec::with_capacity(n);
    for slot in slots {
        match slot.into_inner().expect("no worker panics") {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => return Err(e),
            None => {} // not run because another item failed first
        }
    }
    if out.len() != n {
        return Err(Error::new(ErrorKind::Invalid(
            "a simulation failed to run".into(),
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::map_indexed;

    #[test]
    fn results_come_back_in_index_order_whatever_the_thread_count() {
        for threads in [1, 2, 3, 8] {
            let mut seen = 0;
            let out = map_indexed(50, threads, &|i| Ok(i * i), &mut |d| seen = d).unwrap();
            assert_eq!(out, (0..50).map(|i| i * i).collect::<Vec<_>>(), "{threads}");
            assert_eq!(seen, 50, "progress reaches the total");
        }
    }

    #[test]
    fn an_error_is_returned() {
        let out = map_indexed(
            20,
            2,
            &|i| match i {
                7 => Err(crate::Error::invalid("x", "item 7")),
                _ => Ok(i),
            },
            &mut |_| {},
        );
        assert!(out.unwrap_err().to_string().contains("item 7"));
    }
}
