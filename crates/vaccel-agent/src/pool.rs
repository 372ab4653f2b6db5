//! The worker pool that runs plugin calls: a fixed number of OS threads fed from one FIFO
//! queue (first come, first served across tenants), so plugin work never runs on the I/O
//! threads and never more than `workers` calls run at once.
//!
//! Waking a sleeping thread costs several microseconds on a small VM — as much as the
//! whole round trip of a small call. So a worker that runs out of jobs first *spins* for
//! a short while (default 100 µs; `--worker-spin-us`, 0 turns it off) watching the queue,
//! and a job submitted meanwhile is taken without a wake-up. The spinner yields the CPU on
//! every turn, so it never delays a runnable thread (the caller, the I/O thread). At most one
//! worker spins at a time, so spinning never takes more than one CPU. Only when
//! no worker is spinning does a submission wake a sleeper. An idle agent spins for at
//! most that long after its last job, then sleeps.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A unit of plugin work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

struct Inner {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Jobs queued and not yet taken (readable without the lock).
    queued: AtomicUsize,
    /// Workers spinning on `queued`.
    spinning: AtomicUsize,
    stop: AtomicBool,
    spin: Duration,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    sleeping: usize,
}

/// The pool; dropping it lets the workers finish their current job and exit.
pub struct Pool {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    /// Start `workers` threads (at least one).
    ///
    /// # Errors
    /// A thread could not be started.
    pub fn new(workers: usize, spin: Duration) -> std::io::Result<Pool> {
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            queued: AtomicUsize::new(0),
            spinning: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            spin,
        });
        for i in 0..workers.max(1) {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name(format!("vaccel-worker-{i}"))
                .spawn(move || inner.work())?;
        }
        Ok(Pool { inner })
    }

    /// Queue a job; it runs on a worker as soon as one is free.
    pub fn submit(&self, job: Job) {
        let mut q = lock(&self.inner.queue);
        q.jobs.push_back(job);
        let queued = self.inner.queued.fetch_add(1, Ordering::SeqCst) + 1;
        // Spinning workers will see `queued`; wake a sleeper for what they cannot take.
        // (SeqCst pairs with the spinner's decrement-then-check: one sees the other.)
        if q.sleeping > 0 && queued > self.inner.spinning.load(Ordering::SeqCst) {
            self.inner.ready.notify_one();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let _q = lock(&self.inner.queue);
        self.inner.ready.notify_all();
    }
}

impl Inner {
    fn take(&self) -> Option<Job> {
        let mut q = lock(&self.queue);
        let job = q.jobs.pop_front();
        if job.is_some() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            // More waiting than we can take: pass the wake-up on.
            if !q.jobs.is_empty() && q.sleeping > 0 {
                self.ready.notify_one();
            }
        }
        job
    }

    fn work(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            if let Some(job) = self.take() {
                // Jobs catch their own panics; this keeps the worker alive regardless.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                continue;
            }
            // One spinner at a time: more would only take CPU from the callers.
            if !self.spin.is_zero()
                && self
                    .spinning
                    .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                let until = Instant::now() + self.spin;
                while self.queued.load(Ordering::SeqCst) == 0 && Instant::now() < until {
                    // Give the CPU to anything runnable (the caller, the I/O thread).
                    std::thread::yield_now();
                }
                self.spinning.fetch_sub(1, Ordering::SeqCst);
                if self.queued.load(Ordering::SeqCst) > 0 {
                    continue;
                }
            }
            let mut q = lock(&self.queue);
            q.sleeping += 1;
            while q.jobs.is_empty() && !self.stop.load(Ordering::Relaxed) {
                q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            q.sleeping -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn runs_every_job_with_and_without_spinning() {
        for spin in [Duration::ZERO, Duration::from_micros(50)] {
            let pool = Pool::new(2, spin).unwrap();
            let (tx, rx) = channel();
            for i in 0..1000 {
                let tx = tx.clone();
                pool.submit(Box::new(move || tx.send(i).unwrap()));
                if i % 100 == 0 {
                    // Let the workers go to sleep now and then.
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            let mut got: Vec<i32> = (0..1000).map(|_| rx.recv().unwrap()).collect();
            got.sort_unstable();
            assert_eq!(got, (0..1000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn never_more_jobs_at_once_than_workers() {
        let pool = Pool::new(3, Duration::ZERO).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel();
        for _ in 0..30 {
            let (running, most, tx) = (running.clone(), most.clone(), tx.clone());
            pool.submit(Box::new(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                tx.send(()).unwrap();
            }));
        }
        for _ in 0..30 {
            rx.recv().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_panicking_job_does_not_take_its_worker_down() {
        let pool = Pool::new(1, Duration::ZERO).unwrap();
        pool.submit(Box::new(|| panic!("job failed")));
        let (tx, rx) = channel();
        pool.submit(Box::new(move || tx.send(7).unwrap()));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 7);
    }
}
