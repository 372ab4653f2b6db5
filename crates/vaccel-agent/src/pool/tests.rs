use super::*;
use std::sync::mpsc::channel;

#[test]
fn runs_every_job_with_and_without_spinning() {
    for spin in [Duration::ZERO, Duration::from_micros(50)] {
        let pool = Pool::new(2, spin).unwrap();
        let (tx, rx) = channel();
        for i in 0..1000 {
            let tx = tx.clone();
            pool.submit(1, 0, Box::new(move || tx.send(i).unwrap()));
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
            0,
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
    // Three workers, and the express worker for these short jobs.
    assert!((3..=4).contains(&most.load(Ordering::SeqCst)));
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
    pool.submit(0, 0, Box::new(move || gate_rx.recv().unwrap()));
    let (tx, rx) = channel();
    for &(tenant, took) in jobs {
        let tx = tx.clone();
        pool.submit(
            tenant,
            0,
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

/// Jobs of kind 1 taking 20 ms, known to be long (one of each tenant ran first): `n`
/// of them spread over `tenants`, then one job of tenant 99 — which must run while
/// theirs are still queued. The most that ran at once.
fn most_long_jobs_at_once(pool: &Pool, tenants: &[u64], n: usize) -> usize {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel();
    let job = |counted: bool| -> Job {
        let (running, most, finished, tx) =
            (running.clone(), most.clone(), finished.clone(), tx.clone());
        Box::new(move || {
            if counted {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(20));
            if counted {
                running.fetch_sub(1, Ordering::SeqCst);
                finished.fetch_add(1, Ordering::SeqCst);
            }
            tx.send(()).unwrap();
        })
    };
    for t in tenants {
        pool.submit(*t, 1, job(false));
    }
    for _ in tenants {
        rx.recv().unwrap();
    }
    // A job's cost is learned just after it ends.
    wait_until(|| {
        let q = lock(&pool.inner.queue);
        tenants
            .iter()
            .all(|t| q.tenants.get(t).is_some_and(|a| a.estimate(1) > EXPRESS_NS))
    });
    for i in 0..n {
        pool.submit(tenants[i % tenants.len()], 1, job(true));
    }
    let (other_tx, other_rx) = channel();
    let seen = finished.clone();
    pool.submit(
        99,
        0,
        Box::new(move || other_tx.send(seen.load(Ordering::SeqCst)).unwrap()),
    );
    // It may even run before the long jobs start (a late tenant is served first); what
    // must not happen is that it waits for all of them.
    let done_before = other_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        done_before < n,
        "the other tenant ran only after all {n} long jobs ({done_before} done)"
    );
    for _ in 0..n {
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }
    most.load(Ordering::SeqCst)
}

#[test]
fn one_tenant_never_takes_every_worker() {
    let pool = Pool::new(3, Duration::ZERO).unwrap();
    assert_eq!(
        most_long_jobs_at_once(&pool, &[5], 8),
        2,
        "workers - 1 at once"
    );
    // Accounts are kept until a tenant is forgotten (its connection closed).
    wait_until(|| {
        lock(&pool.inner.queue)
            .tenants
            .values()
            .all(|t| t.running == 0)
    });
    assert_eq!(pool.tenants(), 2);
    pool.forget(5);
    pool.forget(99);
    assert_eq!(pool.tenants(), 0);
}

#[test]
fn a_peers_connections_together_never_take_every_worker() {
    let pool = Pool::new(3, Duration::ZERO).unwrap();
    for tenant in 1..=4 {
        pool.join(tenant, "vsock:7");
    }
    assert_eq!(
        most_long_jobs_at_once(&pool, &[1, 2, 3, 4], 12),
        2,
        "workers - 1 for the peer"
    );
}

#[test]
fn a_short_job_runs_at_once_while_long_ones_hold_every_worker() {
    let pool = Pool::new(2, Duration::ZERO).unwrap();
    let long = |tx: std::sync::mpsc::Sender<()>| -> Job {
        Box::new(move || {
            std::thread::sleep(Duration::from_millis(100));
            let _ = tx.send(());
        })
    };
    // Tenants 1, 3 and 4 are known to send long jobs once a few have run.
    let (tx, rx) = channel();
    for _ in 0..3 {
        for t in [1, 3, 4] {
            pool.submit(t, 0, long(tx.clone()));
        }
    }
    for _ in 0..9 {
        rx.recv().unwrap();
    }
    // A job's cost is learned just after it ends.
    wait_until(|| {
        let q = lock(&pool.inner.queue);
        [1, 3, 4]
            .iter()
            .all(|t| q.tenants.get(t).is_some_and(|a| a.estimate(0) > EXPRESS_NS))
    });
    for _ in 0..3 {
        for t in [1, 3, 4] {
            pool.submit(t, 0, long(tx.clone()));
        }
    }
    let running = || -> usize {
        let q = lock(&pool.inner.queue);
        [1, 3, 4].iter().map(|t| q.tenants[t].running).sum()
    };
    wait_until(|| running() == 2);
    let t0 = Instant::now();
    let (short_tx, short_rx) = channel();
    pool.submit(2, 0, Box::new(move || short_tx.send(()).unwrap()));
    short_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(50),
        "the short job waited {:?} for a long one",
        t0.elapsed()
    );
    assert!(running() <= 2, "long jobs never take the express worker");
    for _ in 0..9 {
        rx.recv().unwrap();
    }
}

#[test]
fn costs_are_learned_per_kind_of_job() {
    let mut q = Queue {
        cap: 1,
        ..Queue::default()
    };
    q.push(1, 7, Box::new(|| {}));
    let t = q.pop(false).unwrap();
    q.done(t.tenant, t.kind, t.express, t.estimate, 50_000_000);
    // Kind 7 is now known to be long; kind 0 of the same tenant is still short.
    q.push(1, 7, Box::new(|| {}));
    assert!(
        q.pop(true).is_none(),
        "a long kind is not for the express worker"
    );
    q.push(1, 0, Box::new(|| {}));
    let t = q.tenants.get_mut(&1).unwrap();
    t.jobs.pop_front();
    q.ready.retain(|id| *id == 1);
    assert!(q.pop(true).is_some(), "a short kind of the same tenant is");
}

#[test]
fn a_panicking_job_does_not_take_its_worker_down() {
    let pool = Pool::new(1, Duration::ZERO).unwrap();
    pool.submit(1, 0, Box::new(|| panic!("job failed")));
    let (tx, rx) = channel();
    pool.submit(1, 0, Box::new(move || tx.send(7).unwrap()));
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 7);
}
