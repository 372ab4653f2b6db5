//! The worker pool that runs plugin calls: a fixed number of OS threads, so plugin work
//! never runs on the I/O threads and never more than `workers` calls run at once.
//!
//! **Fair across tenants.** Each tenant has its own queue, and a free worker takes the
//! next job of the tenant that has had the least worker time so far (its *virtual time*:
//! the measured run time of its jobs), counting the job's expected cost (fair queuing by
//! finish time, so a cheap job is not stuck behind expensive ones of equal standing). A tenant that sends
//! expensive ops therefore shares the workers instead of taking them: a tenant whose
//! queue was empty comes back at the current virtual time (it banks no credit while idle)
//! and is served before the busy ones that have had more. A job's cost is known only
//! once it ran, so when it starts its tenant is charged an estimate (a moving average of
//! its recent jobs) that is corrected when it ends; a second worker therefore does not
//! pick the same expensive tenant again just because its first job is still running.
//!
//! **Never all workers to one tenant.** Jobs cannot be preempted, so a tenant whose jobs
//! held every worker would make anyone else wait for one of them to end, however fair the
//! order. A tenant therefore runs at most `workers - 1` jobs at once (when there are two
//! workers or more): one worker is always free for the others.
//!
//! Waking a sleeping thread costs several microseconds on a small VM — as much as the
//! whole round trip of a small call. So a worker that runs out of jobs first *spins* for
//! a short while (default 100 µs; `--worker-spin-us`, 0 turns it off) watching the queue,
//! and a job submitted meanwhile is taken without a wake-up. The spinner yields the CPU on
//! every turn, so it never delays a runnable thread (the caller, the I/O thread). At most one
//! worker spins at a time, so spinning never takes more than one CPU. Only when
//! no worker is spinning does a submission wake a sleeper. An idle agent spins for at
//! most that long after its last job, then sleeps.

use std::collections::{HashMap, VecDeque};
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

/// How far (ns of worker time) a tenant's account may run ahead of the tenant served
/// last: past this, what it used is forgotten. Short-term turns stay fair (a tenant whose
/// op took longer than this waits for the others to use this much), and a one-off cost
/// such as loading a model costs its tenant a few turns, not seconds of them.
const MAX_LAG_NS: u64 = 100_000_000;

/// Cost charged to a tenant for its first job, before anything was measured.
const FIRST_ESTIMATE_NS: u64 = 100_000;

#[derive(Default)]
struct Queue {
    /// Jobs one tenant may run at once.
    cap: usize,
    tenants: HashMap<u64, TenantQueue>,
    /// Tenants with queued jobs.
    ready: Vec<u64>,
    /// The virtual time of the job picked last: where a tenant that was idle starts.
    floor: u64,
    sleeping: usize,
}

struct TenantQueue {
    jobs: VecDeque<Job>,
    /// Worker time used, in ns, with running jobs counted at their estimate.
    vtime: u64,
    /// Expected cost of its next job, in ns.
    estimate: u64,
    running: usize,
}

impl Queue {
    fn push(&mut self, tenant: u64, job: Job) {
        let floor = self.floor;
        let t = self.tenants.entry(tenant).or_insert_with(|| TenantQueue {
            jobs: VecDeque::new(),
            vtime: floor,
            estimate: FIRST_ESTIMATE_NS,
            running: 0,
        });
        if t.jobs.is_empty() {
            // Back from idle: no credit banked while it was away.
            t.vtime = t.vtime.max(floor);
            self.ready.push(tenant);
        }
        t.jobs.push_back(job);
    }

    /// The next job of the ready tenant whose job would *finish* first in virtual time
    /// (its virtual time plus the job's estimate, as weighted fair queuing orders them):
    /// among tenants that have had equal time, a cheap job goes before an expensive one.
    /// The job is charged its estimate.
    fn pop(&mut self) -> Option<(u64, u64, Job)> {
        let (tenants, cap) = (&self.tenants, self.cap);
        let (i, _) = self
            .ready
            .iter()
            .enumerate()
            .filter(|(_, id)| tenants.get(id).is_some_and(|t| t.running < cap))
            .min_by_key(|(_, id)| {
                tenants
                    .get(id)
                    .map_or(u64::MAX, |t| t.vtime.saturating_add(t.estimate))
            })?;
        let id = self.ready[i];
        let t = self
            .tenants
            .get_mut(&id)
            .expect("ready tenants have a queue");
        let job = t.jobs.pop_front().expect("ready tenants have jobs");
        self.floor = self.floor.max(t.vtime);
        t.vtime += t.estimate;
        t.running += 1;
        let estimate = t.estimate;
        if t.jobs.is_empty() {
            self.ready.swap_remove(i);
        }
        Some((id, estimate, job))
    }

    /// Whether some queued job may start now.
    fn runnable(&self) -> bool {
        self.ready
            .iter()
            .any(|id| self.tenants.get(id).is_some_and(|t| t.running < self.cap))
    }

    /// A job of `tenant` charged `estimate` took `took` ns: correct its virtual time.
    /// Returns whether the tenant has jobs waiting that it may now start.
    fn done(&mut self, tenant: u64, estimate: u64, took: u64) -> bool {
        let Some(t) = self.tenants.get_mut(&tenant) else {
            return false;
        };
        let waiting = !t.jobs.is_empty();
        // A one-off cost (a model's first load) must not lock a tenant out for long: it
        // is never more than MAX_LAG ahead of the others.
        t.vtime = (t.vtime - estimate + took).min(self.floor + MAX_LAG_NS);
        t.estimate = (3 * t.estimate + took) / 4;
        t.running -= 1;
        waiting
    }
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
            queue: Mutex::new(Queue {
                cap: workers.saturating_sub(1).max(1),
                ..Queue::default()
            }),
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

    /// Forget a tenant that is gone (its connection closed, its jobs all done): what it
    /// cost so far is kept while it is connected, so its turns stay fair however its
    /// requests come and go.
    pub fn forget(&self, tenant: u64) {
        let mut q = lock(&self.inner.queue);
        if q.tenants
            .get(&tenant)
            .is_some_and(|t| t.running == 0 && t.jobs.is_empty())
        {
            q.tenants.remove(&tenant);
        }
    }

    /// Tenants the pool keeps accounts for (for tests).
    pub fn tenants(&self) -> usize {
        lock(&self.inner.queue).tenants.len()
    }

    /// Queue a job of `tenant`; it runs when a worker is free and no tenant that has had
    /// less worker time is waiting.
    pub fn submit(&self, tenant: u64, job: Job) {
        let mut q = lock(&self.inner.queue);
        q.push(tenant, job);
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
    fn take(&self) -> Option<(u64, u64, Job)> {
        let mut q = lock(&self.queue);
        let job = q.pop();
        if job.is_some() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            // More waiting than we can take: pass the wake-up on.
            if q.runnable() && q.sleeping > 0 {
                self.ready.notify_one();
            }
        }
        job
    }

    fn run(&self, (tenant, estimate, job): (u64, u64, Job)) {
        let t0 = Instant::now();
        // Jobs catch their own panics; this keeps the worker alive regardless.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let took = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX / 4);
        let mut q = lock(&self.queue);
        if q.done(tenant, estimate, took) && q.sleeping > 0 {
            // Its next job may start now: a sleeper may have skipped it.
            self.ready.notify_one();
        }
    }

    fn work(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            if let Some(job) = self.take() {
                self.run(job);
                continue;
            }
            // One spinner at a time: more would only take CPU from the callers. (Jobs that
            // are queued but may not start yet are waited for asleep.)
            if !self.spin.is_zero()
                && self.queued.load(Ordering::SeqCst) == 0
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
            while !q.runnable() && !self.stop.load(Ordering::Relaxed) {
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
                pool.submit(1, Box::new(move || tx.send(i).unwrap()));
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
        for i in 0..30 {
            let (running, most, tx) = (running.clone(), most.clone(), tx.clone());
            pool.submit(
                i % 5,
                Box::new(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    running.fetch_sub(1, Ordering::SeqCst);
                    tx.send(()).unwrap();
                }),
            );
        }
        for _ in 0..30 {
            rx.recv().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    fn wait_until(mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Run `jobs` (tenant, job length) on one worker, all queued before the first starts;
    /// the order in which tenants were served.
    fn served_order(jobs: &[(u64, Duration)]) -> Vec<u64> {
        let pool = Pool::new(1, Duration::ZERO).unwrap();
        let (gate_tx, gate_rx) = channel::<()>();
        // Hold the worker until everything is queued.
        pool.submit(0, Box::new(move || gate_rx.recv().unwrap()));
        let (tx, rx) = channel();
        for &(tenant, took) in jobs {
            let tx = tx.clone();
            pool.submit(
                tenant,
                Box::new(move || {
                    std::thread::sleep(took);
                    tx.send(tenant).unwrap();
                }),
            );
        }
        gate_tx.send(()).unwrap();
        (0..jobs.len()).map(|_| rx.recv().unwrap()).collect()
    }

    #[test]
    fn a_tenant_with_expensive_jobs_shares_the_worker_by_time() {
        let ms = Duration::from_millis;
        // Tenant 1 queues 10 jobs of 20 ms, tenant 2 then 30 jobs of 1 ms.
        let mut jobs = vec![(1, ms(20)); 10];
        jobs.extend(vec![(2, ms(1)); 30]);
        let order = served_order(&jobs);
        // Equal time: about 20 cheap jobs for each expensive one. Within the first 12
        // served, tenant 1 gets two at most (one before anything was measured).
        let first: Vec<u64> = order[..12].to_vec();
        let expensive = first.iter().filter(|t| **t == 1).count();
        assert!(
            expensive <= 2,
            "expensive tenant took {expensive} of {first:?}"
        );
        assert_eq!(order.iter().filter(|t| **t == 2).count(), 30);
    }

    #[test]
    fn one_job_does_not_wait_behind_another_tenants_queue() {
        let ms = Duration::from_millis;
        let mut jobs = vec![(1, ms(5)); 8];
        jobs.push((2, ms(1)));
        let order = served_order(&jobs);
        let late = order.iter().position(|t| *t == 2).unwrap();
        assert!(late <= 1, "served at {late}: {order:?}");
    }

    #[test]
    fn one_tenant_never_takes_every_worker() {
        let pool = Pool::new(3, Duration::ZERO).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel();
        for _ in 0..12 {
            let (running, most, tx) = (running.clone(), most.clone(), tx.clone());
            pool.submit(
                5,
                Box::new(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                    tx.send(()).unwrap();
                }),
            );
        }
        // Another tenant's job runs on the free worker while tenant 5 has 10 queued.
        let (other_tx, other_rx) = channel();
        pool.submit(6, Box::new(move || other_tx.send(()).unwrap()));
        other_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        for _ in 0..12 {
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2, "workers - 1 at once");
        // Accounts are kept until a tenant is forgotten (its connection closed).
        wait_until(|| pool.tenants() == 2);
        pool.forget(5);
        pool.forget(6);
        assert_eq!(pool.tenants(), 0);
    }

    #[test]
    fn a_panicking_job_does_not_take_its_worker_down() {
        let pool = Pool::new(1, Duration::ZERO).unwrap();
        pool.submit(1, Box::new(|| panic!("job failed")));
        let (tx, rx) = channel();
        pool.submit(1, Box::new(move || tx.send(7).unwrap()));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 7);
    }
}
