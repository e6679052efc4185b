//! The scheduler of one seed: PCT (probabilistic concurrency testing)
//! with a step estimate given up front, so that every seed is one
//! independent execution (shuttle's own `PctScheduler` learns the step
//! count from a first, sequential execution, so a seed would cost two).
//!
//! Every thread gets a random distinct priority when it appears; the
//! highest-priority runnable thread runs; at `depth - 1` random steps the
//! running thread drops to the lowest priority, below every other, so it
//! runs again only when no other thread can. A thread that yields (the
//! simulated disk yields around each operation, see `vfs.rs`) drops too,
//! below the threads that have not yielded since but above those dropped
//! at change points, so I/O lets the others run, as a real blocking call
//! would, without undoing a change point.
//!
//! Two more modes: `Random` picks a uniformly random runnable thread at
//! each step (shuttle's random scheduler); `Delay` keeps running the
//! current thread most of the time but, now and then, stops it for a
//! random number of steps (1 to about 8000, log-uniform), as an operating
//! system preempting a thread for long would: the window between two
//! critical sections of one thread then stays open while the others
//! commit and checkpoint.

use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

/// A small seeded generator (splitmix64): the workload, the crash point
/// and the scheduler of a seed all come from it.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` and a purpose tag.
    pub fn new(seed: u64, tag: u64) -> Rng {
        let mut r = Rng(seed ^ tag.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next();
        r
    }
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }
}

/// How a seed schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// PCT with the given depth (number of priority change points + 1).
    Pct(usize),
    /// A uniformly random runnable thread at every step.
    Random,
    /// Mostly the current thread, with long random preemptions.
    Delay,
}

/// One execution's scheduler.
#[derive(Debug)]
pub struct SeedScheduler {
    rng: Rng,
    mode: Mode,
    started: bool,
    /// Priority of each task by id (higher runs first).
    priority: Vec<u64>,
    /// Priorities handed out on a yield go below every earlier one, and
    /// above those handed out at change points.
    lowest: u64,
    /// Priorities handed out at change points go below every other one.
    floor: u64,
    change_points: Vec<usize>,
    /// `Delay`: the step before which each task (by id) is not chosen
    /// while another can run.
    delayed_until: Vec<usize>,
    steps: usize,
    seed: u64,
}

impl SeedScheduler {
    /// The scheduler of `seed`, for an execution of about `steps` steps.
    pub fn new(seed: u64, mode: Mode, steps: usize) -> SeedScheduler {
        let mut rng = Rng::new(seed, 1);
        let change_points = match mode {
            Mode::Pct(depth) => (1..depth)
                .map(|_| rng.range(1, steps.max(2) as u64) as usize)
                .collect(),
            Mode::Random | Mode::Delay => Vec::new(),
        };
        SeedScheduler {
            rng,
            mode,
            started: false,
            priority: Vec::new(),
            lowest: u64::MAX / 2,
            floor: u64::MAX / 4,
            change_points,
            delayed_until: Vec::new(),
            steps: 0,
            seed,
        }
    }

    fn priority_of(&mut self, id: TaskId) -> u64 {
        let i = usize::from(id);
        while self.priority.len() <= i {
            // Distinct with overwhelming probability, and above every drop.
            let p = u64::MAX / 2 + 1 + self.rng.next() / 2;
            self.priority.push(p);
        }
        self.priority[i]
    }

    fn delay_choice(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> TaskId {
        let until =
            |s: &Self, id: TaskId| s.delayed_until.get(usize::from(id)).copied().unwrap_or(0);
        if let Some(cur) = current {
            if self.rng.chance(1, 15) {
                let i = usize::from(cur);
                if self.delayed_until.len() <= i {
                    self.delayed_until.resize(i + 1, 0);
                }
                let scale = 1u64 << self.rng.range(0, 12);
                self.delayed_until[i] = self.steps + self.rng.range(scale, 2 * scale) as usize;
            }
        }
        let ready: Vec<TaskId> = runnable
            .iter()
            .map(|t| t.id())
            .filter(|&id| until(self, id) <= self.steps)
            .collect();
        if ready.is_empty() {
            let soonest = runnable
                .iter()
                .map(|t| t.id())
                .min_by_key(|&id| until(self, id));
            return soonest.expect("runnable is not empty");
        }
        if let Some(cur) = current {
            if !is_yielding && ready.contains(&cur) && self.rng.chance(3, 4) {
                return cur;
            }
        }
        ready[self.rng.next() as usize % ready.len()]
    }

    fn drop_priority(&mut self, id: TaskId, change_point: bool) {
        self.priority_of(id);
        let p = if change_point {
            &mut self.floor
        } else {
            &mut self.lowest
        };
        *p -= 1;
        self.priority[usize::from(id)] = *p;
    }
}

impl Scheduler for SeedScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.started {
            return None;
        }
        self.started = true;
        Some(Schedule::new(self.seed))
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        if runnable.len() == 1 {
            return Some(runnable[0].id());
        }
        self.steps += 1;
        match self.mode {
            Mode::Random => {
                let i = self.rng.next() as usize % runnable.len();
                Some(runnable[i].id())
            }
            Mode::Delay => Some(self.delay_choice(runnable, current, is_yielding)),
            Mode::Pct(_) => {
                if let Some(cur) = current {
                    if self.change_points.contains(&self.steps) {
                        self.drop_priority(cur, true);
                    } else if is_yielding && self.priority_of(cur) > self.lowest {
                        self.drop_priority(cur, false);
                    }
                }
                let mut best = runnable[0].id();
                let mut best_p = self.priority_of(best);
                for t in &runnable[1..] {
                    let p = self.priority_of(t.id());
                    if p > best_p {
                        best = t.id();
                        best_p = p;
                    }
                }
                Some(best)
            }
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.rng.next()
    }
}
