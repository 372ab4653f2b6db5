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
//! its recent jobs of that kind — that op) that is corrected when it ends; a second worker therefore does not
//! pick the same expensive tenant again just because its first job is still running.
//!
//! **Never all workers to one tenant.** Jobs cannot be preempted, so a tenant whose jobs
//! held every worker would make anyone else wait for one of them to end, however fair the
//! order. A tenant therefore runs at most `workers - 1` jobs at once (when there are two
//! workers or more), and so do all the tenants of one peer together (a VM that opens more
//! connections gets no more workers): one worker is always free for the others.
//!
//! **An express worker for short jobs.** Several tenants with expensive jobs can still
//! hold every worker, and a 50 µs call would wait for a 200 ms one to end. One more thread
//! takes only jobs expected to be short (that tenant's recent jobs of that kind took under
//! 2 ms on average), so a short
//! call finds a thread at once; the kernel shares the CPUs between it and the busy workers.
//! Its cost is one thread, asleep while there is nothing short to run. (Running the other
//! workers at a lower priority was tried and measured worse: the guests' own processes
//! then win the CPU over every plugin call, the good tenants' included.)
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
use vaccel::sync::{lock, wait};

/// A unit of plugin work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

struct Inner {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Where the express worker sleeps.
    express: Condvar,
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

/// Jobs whose estimate is at most this (ns) may run on the express worker.
const EXPRESS_NS: u64 = 2_000_000;

/// A job taken to run, with what its tenant was charged for it.
struct Taken {
    tenant: u64,
    kind: u32,
    /// Taken by the express worker (which no cap counts).
    express: bool,
    estimate: u64,
    job: Job,
}

/// Cost charged for a tenant's first job of a kind, before anything was measured.
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
    /// Whether the express worker is asleep.
    express_sleeping: bool,
    /// Jobs running, by peer.
    peer_running: HashMap<u64, usize>,
}

struct TenantQueue {
    /// Jobs, each with its kind (the op it runs).
    jobs: VecDeque<(u32, Job)>,
    /// Worker time used, in ns, with running jobs counted at their estimate.
    vtime: u64,
    /// Its peer (a VM or process; see [`Pool::join`]).
    peer: u64,
    /// Expected cost of a job, by kind, in ns (a moving average; a few kinds at most).
    estimates: Vec<(u32, u64)>,
    running: usize,
}

impl TenantQueue {
    fn estimate(&self, kind: u32) -> u64 {
        self.estimates
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(FIRST_ESTIMATE_NS, |(_, e)| *e)
    }

    /// The expected cost of the job at the head of the queue.
    fn next_estimate(&self) -> u64 {
        self.jobs
            .front()
            .map_or(FIRST_ESTIMATE_NS, |(k, _)| self.estimate(*k))
    }

    fn learn(&mut self, kind: u32, took: u64) {
        match self.estimates.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, e)) => *e = (3 * *e + took) / 4,
            None => self
                .estimates
                .push((kind, (3 * FIRST_ESTIMATE_NS + took) / 4)),
        }
    }
}

impl Queue {
    /// The account of `tenant`, made (as a peer of its own, unless [`Pool::join`] said
    /// otherwise) if it has none.
    fn account(&mut self, tenant: u64) -> &mut TenantQueue {
        let floor = self.floor;
        self.tenants.entry(tenant).or_insert_with(|| TenantQueue {
            jobs: VecDeque::new(),
            vtime: floor,
            peer: tenant,
            estimates: Vec::new(),
            running: 0,
        })
    }

    fn push(&mut self, tenant: u64, kind: u32, job: Job) {
        let floor = self.floor;
        let t = self.account(tenant);
        let was_idle = t.jobs.is_empty();
        if was_idle {
            // Back from idle: no credit banked while it was away.
            t.vtime = t.vtime.max(floor);
        }
        t.jobs.push_back((kind, job));
        if was_idle {
            self.ready.push(tenant);
        }
    }

    /// The next job of the ready tenant whose job would *finish* first in virtual time
    /// (its virtual time plus the job's estimate, as weighted fair queuing orders them):
    /// among tenants that have had equal time, a cheap job goes before an expensive one.
    /// The job is charged its estimate.
    /// The express worker (`express`) takes only jobs of tenants whose jobs are short.
    fn pop(&mut self, express: bool) -> Option<Taken> {
        let (i, _) = self
            .ready
            .iter()
            .enumerate()
            .filter(|(_, id)| self.may_start(id, express))
            .min_by_key(|(_, id)| {
                self.tenants
                    .get(id)
                    .map_or(u64::MAX, |t| t.vtime.saturating_add(t.next_estimate()))
            })?;
        let id = self.ready[i];
        let t = self
            .tenants
            .get_mut(&id)
            .expect("ready tenants have a queue");
        let (kind, job) = t.jobs.pop_front().expect("ready tenants have jobs");
        let estimate = t.estimate(kind);
        self.floor = self.floor.max(t.vtime);
        t.vtime += estimate;
        let peer = t.peer;
        if !express {
            t.running += 1;
        }
        if t.jobs.is_empty() {
            self.ready.swap_remove(i);
        }
        if !express {
            *self.peer_running.entry(peer).or_default() += 1;
        }
        Some(Taken {
            tenant: id,
            kind,
            express,
            estimate,
            job,
        })
    }

    /// Whether a job of `tenant` may start now (on the express worker, if `express`).
    fn may_start(&self, tenant: &u64, express: bool) -> bool {
        // The caps count the general workers only: the express worker takes short jobs,
        // which leave it free again at once.
        self.tenants.get(tenant).is_some_and(|t| {
            if express {
                t.next_estimate() <= EXPRESS_NS
            } else {
                t.running < self.cap
                    && self.peer_running.get(&t.peer).copied().unwrap_or(0) < self.cap
            }
        })
    }

    /// Whether some queued job may start now (on the express worker, if `express`).
    fn runnable(&self, express: bool) -> bool {
        self.ready.iter().any(|id| self.may_start(id, express))
    }

    /// How many tenants have a job that may start now (on the express worker, if
    /// `express`).
    fn runnable_count(&self, express: bool) -> usize {
        self.ready
            .iter()
            .filter(|id| self.may_start(id, express))
            .count()
    }

    /// A job of `tenant` and `kind` charged `estimate` took `took` ns: correct its
    /// virtual time.
    fn done(&mut self, tenant: u64, kind: u32, express: bool, estimate: u64, took: u64) {
        let Some(t) = self.tenants.get_mut(&tenant) else {
            return;
        };
        // A one-off cost (a model's first load) must not lock a tenant out for long: it
        // is never more than MAX_LAG ahead of the others.
        t.vtime = (t.vtime - estimate + took).min(self.floor + MAX_LAG_NS);
        t.learn(kind, took);
        if express {
            return;
        }
        t.running -= 1;
        let peer = t.peer;
        if let Some(n) = self.peer_running.get_mut(&peer) {
            *n -= 1;
            if *n == 0 {
                self.peer_running.remove(&peer);
            }
        }
    }
}

/// The pool; dropping it lets the workers finish their current job and exit.
pub struct Pool {
    inner: Arc<Inner>,
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
            express: Condvar::new(),
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
        let express = inner.clone();
        std::thread::Builder::new()
            .name("vaccel-express".into())
            .spawn(move || express.work_express())?;
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

    /// Say that `tenant` is a connection of `peer` (a vsock CID, a Unix peer process, a
    /// TCP address): all the tenants of one peer together run at most `workers - 1` jobs
    /// at once. Call before its first job.
    pub fn join(&self, tenant: u64, peer: &str) {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let peer = BuildHasherDefault::<DefaultHasher>::default().hash_one(peer);
        lock(&self.inner.queue).account(tenant).peer = peer;
    }

    /// Tenants the pool keeps accounts for (for tests).
    pub fn tenants(&self) -> usize {
        lock(&self.inner.queue).tenants.len()
    }

    /// Queue a job of `tenant`; it runs when a worker is free and no tenant that has had
    /// less worker time is waiting.
    pub fn submit(&self, tenant: u64, kind: u32, job: Job) {
        let mut q = lock(&self.inner.queue);
        q.push(tenant, kind, job);
        let queued = self.inner.queued.fetch_add(1, Ordering::SeqCst) + 1;
        // Spinning workers will see `queued`; wake a sleeper for what they cannot take.
        // (SeqCst pairs with the spinner's decrement-then-check: one sees the other.)
        if q.sleeping > 0
            && queued > self.inner.spinning.load(Ordering::SeqCst)
            && q.may_start(&tenant, false)
        {
            self.inner.ready.notify_one();
        }
        self.inner.wake_express(&q, tenant);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let _q = lock(&self.inner.queue);
        self.inner.ready.notify_all();
        self.inner.express.notify_all();
    }
}

impl Inner {
    /// Whether a general worker is idle and may take a job of `tenant` (no cap holds it).
    fn general_free_for(&self, q: &Queue, tenant: u64) -> bool {
        (q.sleeping > 0 || self.spinning.load(Ordering::SeqCst) > 0) && q.may_start(&tenant, false)
    }

    /// Wake the express worker if it sleeps, `tenant` has a job it may take, and no general
    /// worker is free to take it (a wake-up costs the caller a system call).
    fn wake_express(&self, q: &Queue, tenant: u64) {
        if q.express_sleeping
            && q.ready.contains(&tenant)
            && q.may_start(&tenant, true)
            && !self.general_free_for(q, tenant)
        {
            self.express.notify_one();
        }
    }

    fn take(&self, express: bool) -> Option<Taken> {
        let mut q = lock(&self.queue);
        let job = q.pop(express);
        if job.is_some() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            // More waiting than we can take: pass the wake-up on.
            if q.runnable(false) && q.sleeping > 0 {
                self.ready.notify_one();
            }
        }
        job
    }

    fn run(
        &self,
        Taken {
            tenant,
            kind,
            express,
            estimate,
            job,
        }: Taken,
    ) {
        let t0 = Instant::now();
        // Jobs catch their own panics; this keeps the worker alive regardless.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let took = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX / 4);
        let mut q = lock(&self.queue);
        q.done(tenant, kind, express, estimate, took);
        // This worker takes the next job itself. Only the jobs beyond that one, which a cap
        // held back until now, need another worker woken (a wake-up is a system call, and a
        // woken worker that finds nothing costs two).
        if !express {
            if q.sleeping > 0 && q.runnable_count(false) > 1 {
                self.ready.notify_one();
            }
            if q.express_sleeping && q.runnable_count(true) > 1 {
                self.express.notify_one();
            }
        }
    }

    /// The express worker: short jobs only, no spinning.
    fn work_express(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            if let Some(job) = self.take(true) {
                self.run(job);
                continue;
            }
            let mut q = lock(&self.queue);
            q.express_sleeping = true;
            while !q.runnable(true) && !self.stop.load(Ordering::Relaxed) {
                q = wait(&self.express, q);
            }
            q.express_sleeping = false;
        }
    }

    /// Watch for new work a short while before sleeping; whether some came. One spinner
    /// at a time: more would only take CPU from the callers. Jobs that are queued but may
    /// not start yet are waited for asleep.
    fn spin_for_work(&self) -> bool {
        if self.spin.is_zero()
            || self.queued.load(Ordering::SeqCst) > 0
            || self
                .spinning
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            return false;
        }
        let until = Instant::now() + self.spin;
        while self.queued.load(Ordering::SeqCst) == 0 && Instant::now() < until {
            // Give the CPU to anything runnable (the caller, the I/O thread).
            std::thread::yield_now();
        }
        self.spinning.fetch_sub(1, Ordering::SeqCst);
        self.queued.load(Ordering::SeqCst) > 0
    }

    fn work(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            if let Some(job) = self.take(false) {
                self.run(job);
                continue;
            }
            if self.spin_for_work() {
                continue;
            }
            let mut q = lock(&self.queue);
            q.sleeping += 1;
            while !q.runnable(false) && !self.stop.load(Ordering::Relaxed) {
                q = wait(&self.ready, q);
            }
            q.sleeping -= 1;
        }
    }
}

#[cfg(test)]
mod tests;
